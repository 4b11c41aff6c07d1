#!/usr/bin/env python3
"""Reference data for the landmark and alignment parity test (hil-tests/tests/face_landmarks_parity.rs).

    face-ref-landmarks.py MODELS_DIR OUT_DIR

Run with a Python that has dlib, numpy and Pillow (scripts/face-parity.sh makes a venv with
dlib and numpy: MODELS_DIR/venv/bin/python; add Pillow with its pip). Reads MODELS_DIR/shape_predictor_5_face_landmarks.dat and the
fixture card's chip photo (tag DF27 of surface-0002.bin, decoded with opj_decompress), makes
test images (the photo grey and grey→RGB, then scaled, rotated, shifted, brightened and
tinted copies on larger canvases), and writes to OUT_DIR:

  <image>.rgb                      raw samples, row-major, no padding
  cases.txt                        one line per case:
      case image width height channels left top right bottom source x0 y0 … x4 y4
    (the box is dlib's rectangle with inclusive edges; source is "hog" for boxes of dlib's
    get_frontal_face_detector() and "hand" for set boxes; x/y are dlib's 5 landmarks)
  <case>.chip.rgb                  dlib's get_face_chip(image, landmarks, 150, 0.25), 150×150×3
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import dlib
except ImportError:
    sys.exit("face-ref-landmarks: this Python has no dlib (use the venv of scripts/face-parity.sh)")
try:
    from PIL import Image
except ImportError:
    sys.exit("face-ref-landmarks: this Python has no Pillow (pip install pillow in the same venv)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fixture_photo(tmp):
    fixture = os.path.join(ROOT, "..", "shared", "fixtures", "myna-testcard", "surface-0002.bin")
    if not os.path.exists(fixture):
        home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
        for dirpath, _, files in os.walk(os.path.join(home, "registry", "src")):
            if "surface-0002.bin" in files and "myna-card-" in dirpath:
                fixture = os.path.join(dirpath, "surface-0002.bin")
                break
    b = open(fixture, "rb").read()
    i = b.find(b"\xdf\x27")
    while i >= 0:
        j = i + 2
        n = b[j]
        j += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(b[j:j + k], "big")
            j += k
        if b[j:j + 12] == bytes.fromhex("0000000c6a5020200d0a870a"):
            jp2 = os.path.join(tmp, "chip.jp2")
            pgm = os.path.join(tmp, "chip.pgm")
            open(jp2, "wb").write(b[j:j + n])
            subprocess.run(["opj_decompress", "-quiet", "-i", jp2, "-o", pgm], check=True,
                           stdout=subprocess.DEVNULL)
            return np.asarray(Image.open(pgm).convert("L"))
        i = b.find(b"\xdf\x27", i + 1)
    sys.exit("face-ref-landmarks: no JPEG 2000 under DF27 in " + fixture)


def place(grey, canvas_wh, scale, angle_deg, centre, bg):
    """The photo scaled, rotated about its centre and put at `centre` on a canvas (PIL bicubic)."""
    im = Image.fromarray(grey)
    w, h = im.size
    im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
    if angle_deg:
        im = im.rotate(angle_deg, resample=Image.BICUBIC, expand=True, fillcolor=bg)
    canvas = Image.new("L", canvas_wh, bg)
    canvas.paste(im, (round(centre[0] - im.size[0] / 2), round(centre[1] - im.size[1] / 2)))
    return np.asarray(canvas)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    models, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    sp = dlib.shape_predictor(os.path.join(models, "shape_predictor_5_face_landmarks.dat"))
    hog = dlib.get_frontal_face_detector()
    with tempfile.TemporaryDirectory() as tmp:
        photo = fixture_photo(tmp)

    rgb = lambda g: np.ascontiguousarray(np.stack([g, g, g], axis=-1))
    images = {}
    images["photo-grey"] = photo
    images["photo-rgb"] = rgb(photo)
    images["big"] = rgb(place(photo, (1000, 1200), 2.3, 0, (520, 600), 30))
    images["huge"] = rgb(place(photo, (1700, 2000), 4.5, 0, (850, 1000), 200))
    images["small-rot"] = rgb(place(photo, (520, 460), 0.8, 14, (280, 240), 90))
    images["rot-neg"] = rgb(place(photo, (640, 640), 1.1, -23, (300, 340), 0))
    images["shift"] = rgb(place(photo, (700, 560), 1.0, 0, (510, 260), 255))
    bright = np.clip(photo.astype(np.int32) * 13 // 10 + 40, 0, 255).astype(np.uint8)
    images["bright"] = rgb(place(bright, (600, 600), 1.25, 5, (300, 300), 128))
    tinted = rgb(place(photo, (500, 560), 1.0, -6, (250, 280), 60)).astype(np.int32)
    tinted[..., 0] = np.clip(tinted[..., 0] * 11 // 10 + 12, 0, 255)
    tinted[..., 2] = tinted[..., 2] * 8 // 10
    images["tinted"] = tinted.astype(np.uint8)
    images["edge"] = rgb(place(photo, (420, 420), 1.0, 0, (60, 230), 10))

    cases = []
    for name, img in images.items():
        h, w = img.shape[:2]
        ch = 1 if img.ndim == 2 else 3
        img.tofile(os.path.join(out, name + ".rgb"))
        boxes = [(r, "hog") for r in hog(img, 1)]
        base = boxes[0][0] if boxes else dlib.rectangle(w // 4, h // 4, 3 * w // 4, 3 * h // 4)
        bw, bh = base.width(), base.height()
        hand = [
            dlib.rectangle(base.left() + bw // 9, base.top() - bh // 13, base.right() + bw // 9, base.bottom() - bh // 13),
            dlib.rectangle(base.left() - bw // 6, base.top() - bh // 6, base.right() + bw // 6, base.bottom() + bh // 6),
            dlib.rectangle(base.left() + bw // 8, base.top() + bh // 8, base.right() - bw // 8, base.bottom() - bh // 8),
            dlib.rectangle(-bw // 2, -bh // 3, bw // 2, 2 * bh // 3),
            dlib.rectangle(w - 15, h - 12, w + 30, h + 40),
            dlib.rectangle(5, 7, 28, 30),
        ]
        boxes += [(r, "hand") for r in hand]
        for k, (r, src) in enumerate(boxes):
            case = f"{name}-{k}"
            s = sp(img, r)
            pts = [(s.part(i).x, s.part(i).y) for i in range(5)]
            chip_src = img if ch == 3 else rgb(img)
            chip = dlib.get_face_chip(chip_src, s, size=150, padding=0.25)
            np.ascontiguousarray(chip, dtype=np.uint8).tofile(os.path.join(out, case + ".chip.rgb"))
            flat = " ".join(f"{x} {y}" for x, y in pts)
            cases.append(f"{case} {name} {w} {h} {ch} {r.left()} {r.top()} {r.right()} {r.bottom()} {src} {flat}")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")
    print(f"face-ref-landmarks: {len(images)} images, {len(cases)} cases in {out}")


if __name__ == "__main__":
    main()
