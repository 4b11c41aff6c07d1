#!/usr/bin/env bash
# The real face photos of the face evaluation set: public-domain portraits that ship inside
# packages on the Python package index (none is committed). Downloads the pinned packages
# once, extracts the photos and checks their SHA-256:
#   face_recognition 1.3.0 (sdist, its tests/test_images): obama.jpg obama2.jpg obama3.jpg
#     biden.jpg — official White House photographs (works of the US federal government)
#   matplotlib 3.11.2 (mpl-data/sample_data): grace_hopper.jpg — US Navy photograph
#   scikit-image 0.26.0 (skimage/data): astronaut.png — NASA photograph of Eileen Collins
#
#   scripts/face-eval-sources.sh [DIR]     DIR defaults to target/face-models/eval-sources
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-$PWD/target/face-models/eval-sources}"
mkdir -p "$OUT/packages"

have_all=1
for f in obama_1.jpg obama_2.jpg obama_3.jpg biden_1.jpg hopper_1.jpg collins_1.png; do
  [ -s "$OUT/$f" ] || have_all=0
done
if [ "$have_all" -eq 0 ]; then
  PIP=(python3 -m pip)
  "${PIP[@]}" --version >/dev/null 2>&1 || { echo "face-eval-sources: pip for python3 is required" >&2; exit 1; }
  ls "$OUT"/packages/face_recognition-1.3.0.tar.gz >/dev/null 2>&1 \
    || "${PIP[@]}" download -q --no-deps --no-binary=:all: -d "$OUT/packages" face_recognition==1.3.0
  ls "$OUT"/packages/matplotlib-3.11.2* >/dev/null 2>&1 \
    || "${PIP[@]}" download -q --no-deps -d "$OUT/packages" matplotlib==3.11.2
  ls "$OUT"/packages/scikit_image-0.26.0* >/dev/null 2>&1 \
    || "${PIP[@]}" download -q --no-deps -d "$OUT/packages" scikit-image==0.26.0
fi

python3 - "$OUT" <<'EOF'
import hashlib, os, sys, tarfile, zipfile, glob
out = sys.argv[1]
# (output name, package file glob, member suffix, sha256)
WANT = [
    ("obama_1.jpg", "face_recognition-1.3.0*", "tests/test_images/obama.jpg",
     "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6"),
    ("obama_2.jpg", "face_recognition-1.3.0*", "tests/test_images/obama2.jpg",
     "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6"),
    ("obama_3.jpg", "face_recognition-1.3.0*", "tests/test_images/obama3.jpg",
     "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3"),
    ("biden_1.jpg", "face_recognition-1.3.0*", "tests/test_images/biden.jpg",
     "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c"),
    ("hopper_1.jpg", "matplotlib-3.11.2*", "mpl-data/sample_data/grace_hopper.jpg",
     "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"),
    ("collins_1.png", "scikit_image-0.26.0*", "skimage/data/astronaut.png",
     "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
]
def members(path):
    if path.endswith(".whl") or path.endswith(".zip"):
        z = zipfile.ZipFile(path)
        for n in z.namelist():
            yield n, (lambda n=n: z.read(n))
    else:
        t = tarfile.open(path)
        for m in t.getmembers():
            if m.isfile():
                yield m.name, (lambda m=m: t.extractfile(m).read())
for name, pkg, suffix, sha in WANT:
    dest = os.path.join(out, name)
    if os.path.exists(dest) and hashlib.sha256(open(dest, "rb").read()).hexdigest() == sha:
        continue
    found = None
    for p in sorted(glob.glob(os.path.join(out, "packages", pkg))):
        for n, read in members(p):
            if n.endswith(suffix):
                found = read()
                break
        if found:
            break
    if found is None:
        sys.exit(f"face-eval-sources: {suffix} not found in {pkg}")
    got = hashlib.sha256(found).hexdigest()
    if got != sha:
        sys.exit(f"face-eval-sources: {suffix}: sha256 {got}, expected {sha}")
    open(dest, "wb").write(found)
print(f"face-eval-sources: ok ({len(WANT)} photos in {out})")
EOF
