#!/usr/bin/env python3
"""dlib's own decisions on an LFW-style pairs set, for shikaku-face-eval --reference.

    face-ref-eval.py PAIRS ROOT MODELS_DIR OUT.tsv

For every image: dlib's CNN face detector (mmod_human_face_detector, no upsampling), the
largest face, the 5-point shape predictor, get_face_chip (150, padding 0.25) and the ResNet
descriptor; for every pair the Euclidean distance. Output, tab separated:

    pair <line> <distance or -> <genuine 0/1>
    image <id> <left> <top> <right> <bottom> or image <id> -

Run with the Python that has `dlib` and `numpy` (scripts/face-parity.sh makes that venv).
"""
import os
import sys

import dlib
import numpy as np


def find(root, name, number):
    stem = f"{name}_{number:04d}"
    for ext in ("jpg", "jpeg", "png"):
        p = os.path.join(root, name, f"{stem}.{ext}")
        if os.path.isfile(p):
            return p
    sys.exit(f"{root}/{name}/{stem}: no such image")


def parse_pairs(path):
    lines = [l.split() for l in open(path) if l.strip()]
    head, rest = lines[0], lines[1:]
    pairs = []
    for i, f in enumerate(rest, start=2):
        if len(f) == 3:
            pairs.append((i, (f[0], int(f[1])), (f[0], int(f[2])), True))
        elif len(f) == 4:
            pairs.append((i, (f[0], int(f[1])), (f[2], int(f[3])), f[0] == f[2]))
        else:
            sys.exit(f"line {i}: a pair has 3 or 4 fields")
    return pairs


def main():
    pairs_path, root, models, out = sys.argv[1:5]
    det = dlib.cnn_face_detection_model_v1(os.path.join(models, "mmod_human_face_detector.dat"))
    sp = dlib.shape_predictor(os.path.join(models, "shape_predictor_5_face_landmarks.dat"))
    net = dlib.face_recognition_model_v1(os.path.join(models, "dlib_face_recognition_resnet_model_v1.dat"))
    pairs = parse_pairs(pairs_path)
    ids = sorted({p[1] for p in pairs} | {p[2] for p in pairs})
    desc, boxes = {}, {}
    for name, number in ids:
        img = dlib.load_rgb_image(find(root, name, number))
        dets = det(img, 0)
        if len(dets) == 0:
            desc[(name, number)] = None
            boxes[(name, number)] = None
            continue
        r = max(dets, key=lambda d: d.rect.width() * d.rect.height()).rect
        shape = sp(img, r)
        chip = dlib.get_face_chip(img, shape, size=150, padding=0.25)
        desc[(name, number)] = np.array(net.compute_face_descriptor(chip))
        boxes[(name, number)] = (r.left(), r.top(), r.right(), r.bottom())
    with open(out, "w") as f:
        for (name, number) in ids:
            b = boxes[(name, number)]
            f.write(f"image\t{name}_{number:04d}\t" + ("-" if b is None else "\t".join(map(str, b))) + "\n")
        for line, a, b, genuine in pairs:
            da, db = desc[a], desc[b]
            d = "-" if da is None or db is None else repr(float(np.linalg.norm(da - db)))
            f.write(f"pair\t{line}\t{d}\t{int(genuine)}\n")
    print(f"face-ref-eval: dlib {dlib.__version__}: {len(ids)} images, {len(pairs)} pairs")


if __name__ == "__main__":
    main()
