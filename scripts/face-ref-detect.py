#!/usr/bin/env python3
"""Reference detections of dlib's CNN face detector for hil-tests/tests/face_detect_parity.rs.

    face-ref-detect.py MODELS_DIR OUT_DIR

Runs `dlib.cnn_face_detection_model_v1(MODELS_DIR/mmod_human_face_detector.dat)(img, 0)` (no
upsampling) on a set of RGB inputs and writes, to OUT_DIR:
  - NAME.rgb: the input's pixels (rows of R, G, B bytes, no header);
  - dlib-detections.txt: one line per input,
      NAME WIDTH HEIGHT COUNT [LEFT TOP RIGHT BOTTOM CONFIDENCE]*COUNT
    (dlib's order, edges inclusive, confidence as Python's repr of the float).
Inputs: the fixture card's chip photo (decoded grey, as RGB), the photo scaled, shifted and
cropped into 320×240 and 640×480 canvases (one to three faces, mirrored, cut by the edge, near
the smallest size found), with noise and a brightness change; the photographs in
MODELS_DIR/eval-sources if there are any (scaled to fit 480×480); and images with no face
(noise, gradient, flat). Needs the venv's dlib and numpy, and opj_decompress
when MODELS_DIR/parity/chip.pgm is not there yet (the photo is taken from the fixture).
"""
import os
import subprocess
import sys
import time

import numpy as np
import dlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, '..', '..', 'shared', 'fixtures', 'myna-testcard', 'surface-0002.bin')


def chip_pgm(models, out):
    have = os.path.join(models, 'parity', 'chip.pgm')
    if os.path.exists(have):
        return have
    b = open(FIXTURE, 'rb').read()
    i = b.find(b'\xdf\x27')
    while i >= 0:
        j = i + 2
        n = b[j]
        j += 1
        if n & 0x80:
            k = n & 0x7f
            n = int.from_bytes(b[j:j + k], 'big')
            j += k
        if b[j:j + 12] == bytes.fromhex('0000000c6a5020200d0a870a'):
            jp2 = os.path.join(out, 'chip.jp2')
            open(jp2, 'wb').write(b[j:j + n])
            pgm = os.path.join(out, 'chip.pgm')
            subprocess.run(['opj_decompress', '-quiet', '-i', jp2, '-o', pgm], check=True,
                           stdout=subprocess.DEVNULL)
            return pgm
        i = b.find(b'\xdf\x27', i + 1)
    sys.exit('face-ref-detect: no JPEG 2000 photo under DF27 in the fixture')


def read_pgm(path):
    b = open(path, 'rb').read()
    fields, i = [], 0
    while len(fields) < 4:
        while b[i:i + 1].isspace():
            i += 1
        if b[i:i + 1] == b'#':
            while b[i:i + 1] not in (b'\n', b''):
                i += 1
            continue
        j = i
        while not b[j:j + 1].isspace():
            j += 1
        fields.append(b[i:j])
        i = j
    i += 1
    w, h, maxv = int(fields[1]), int(fields[2]), int(fields[3])
    dt = np.uint8 if maxv < 256 else np.dtype('>u2')
    a = np.frombuffer(b, dtype=dt, count=w * h, offset=i).reshape(h, w).astype(np.float64)
    return (a * 255.0 / maxv) if maxv != 255 else a


def resize(a, nh, nw):
    """Bilinear, pixel centres aligned (our own, for making inputs only)."""
    h, w = a.shape[:2]
    ys = (np.arange(nh) + 0.5) * h / nh - 0.5
    xs = (np.arange(nw) + 0.5) * w / nw - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 1)
    y1 = np.clip(y0 + 1, 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 1)
    x1 = np.clip(x0 + 1, 0, w - 1)
    fy = np.clip(ys - y0, 0, 1)[:, None]
    fx = np.clip(xs - x0, 0, 1)[None, :]
    if a.ndim == 3:
        fy, fx = fy[..., None], fx[..., None]
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bot = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def to_u8(a):
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def rgb(grey):
    g = to_u8(grey)
    return np.ascontiguousarray(np.stack([g, g, g], axis=-1))


def canvas(w, h, kind, rng):
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == 'grey':
        c = np.full((h, w, 3), 118.0)
    elif kind == 'warm':
        c = np.stack([150 + 40 * xx / w, 120 + 30 * yy / h, np.full((h, w), 90.0)], -1)
    else:  # textured
        c = 100 + 50 * np.sin(xx / 13.0)[..., None] * np.cos(yy / 17.0)[..., None] + rng.normal(0, 8, (h, w, 1))
        c = np.repeat(c, 3, axis=-1)
    return c


def place(bg, photo, scale, x, y):
    """The grey photo scaled by `scale`, its top-left corner at (x, y) (may be cropped)."""
    ph, pw = photo.shape
    nh, nw = max(1, round(ph * scale)), max(1, round(pw * scale))
    p = resize(photo, nh, nw)
    out = bg.copy()
    h, w = out.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + nw, w), min(y + nh, h)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1, :] = p[y0 - y:y1 - y, x0 - x:x1 - x, None]
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    models, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    photo = read_pgm(chip_pgm(models, out))
    rng = np.random.default_rng(20)
    ph, pw = photo.shape
    inputs = {}
    inputs['chip'] = rgb(photo)
    inputs['chip-noise'] = rgb(photo + rng.normal(0, 6, photo.shape))
    inputs['chip-dark'] = rgb(photo * 0.6 + 10)
    inputs['chip-bright'] = rgb(photo * 0.8 + 60)
    inputs['chip-padded'] = to_u8(place(canvas(pw + 90, ph + 40, 'grey', rng), photo, 1.0, 60, 25))
    # 320×240 canvases: the face at several places and sizes
    inputs['qvga-centre'] = to_u8(place(canvas(320, 240, 'grey', rng), photo, 0.5, 113, 2))
    inputs['qvga-left-small'] = to_u8(place(canvas(320, 240, 'warm', rng), photo, 0.36, 10, 60))
    inputs['qvga-right-crop'] = to_u8(place(canvas(320, 240, 'textured', rng), photo, 0.55, 200, -20))
    inputs['qvga-two'] = to_u8(place(place(canvas(320, 240, 'grey', rng), photo, 0.42, 5, 30), photo, 0.3, 200, 100))
    # 640×480 canvases
    inputs['vga-large'] = to_u8(place(canvas(640, 480, 'grey', rng), photo, 1.0, 130, 4))
    inputs['vga-small-corner'] = to_u8(place(canvas(640, 480, 'warm', rng), photo, 0.4, 470, 300))
    inputs['vga-textured'] = to_u8(place(canvas(640, 480, 'textured', rng), photo, 0.7, 20, 90)
                                   + rng.normal(0, 4, (480, 640, 1)))
    inputs['qvga-mirrored'] = to_u8(place(canvas(320, 240, 'grey', rng), photo[:, ::-1], 0.45, 90, 20))
    inputs['qvga-near-min'] = to_u8(place(canvas(320, 240, 'warm', rng), photo, 0.33, 150, 70))
    three = place(canvas(640, 480, 'textured', rng), photo, 0.25, 20, 30)
    three = place(three, photo, 0.45, 200, 200)
    inputs['vga-three'] = to_u8(place(three, photo, 0.8, 380, 40))
    inputs['vga-edge-cut'] = to_u8(place(canvas(640, 480, 'grey', rng), photo, 0.9, -150, 60))
    # real photographs, when the evaluation's sources are there (scaled to fit 480×480)
    src = os.path.join(models, 'eval-sources')
    if os.path.isdir(src):
        for f in sorted(os.listdir(src)):
            if not f.lower().endswith(('.jpg', '.jpeg', '.png')):
                continue
            img = dlib.load_rgb_image(os.path.join(src, f)).astype(np.float64)
            h, w = img.shape[:2]
            k = min(1.0, 480.0 / max(h, w))
            inputs['real-' + os.path.splitext(f)[0]] = to_u8(resize(img, round(h * k), round(w * k)))
    # no face
    yy, xx = np.mgrid[0:240, 0:320]
    inputs['noface-noise'] = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    inputs['noface-gradient'] = to_u8(np.stack([xx * 255 / 319, yy * 255 / 239, (xx + yy) * 255 / 558], -1))
    inputs['noface-flat'] = np.full((240, 320, 3), 128, np.uint8)
    inputs['noface-odd-size'] = rng.integers(60, 200, (97, 131, 3), dtype=np.uint8)

    det = dlib.cnn_face_detection_model_v1(os.path.join(models, 'mmod_human_face_detector.dat'))
    lines = []
    total = 0.0
    for name, img in inputs.items():
        img = np.ascontiguousarray(img, dtype=np.uint8)
        img.tofile(os.path.join(out, name + '.rgb'))
        t = time.perf_counter()
        dets = det(img, 0)
        total += time.perf_counter() - t
        h, w = img.shape[:2]
        fields = [name, str(w), str(h), str(len(dets))]
        for d in dets:
            r = d.rect
            fields += [str(r.left()), str(r.top()), str(r.right()), str(r.bottom()), repr(float(d.confidence))]
        lines.append(' '.join(fields))
        print(f'face-ref-detect: {name} {w}x{h}: {len(dets)} face(s)', *[f'{d.rect} {d.confidence:.4f}' for d in dets])
    with open(os.path.join(out, 'dlib-detections.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'face-ref-detect: dlib {dlib.__version__}, {len(inputs)} inputs, {total:.2f} s in dlib')


if __name__ == '__main__':
    main()
