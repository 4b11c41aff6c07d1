#!/usr/bin/env bash
# Parity of our face engine (firmware/face/src) with dlib's own, stage by stage: installs the
# `dlib` Python package (prebuilt wheel `dlib-bin`, else `dlib`), numpy and Pillow in a venv
# beside the models, writes dlib's answers on the same inputs, then runs (release build):
#   face_parity            the embedder: the fixture card's chip photo and synthetic 150×150
#                          inputs, |Δ| ≤ 1e-3 per component (f32), cosine ≥ 0.99 (int8)
#   face_detect_parity     the CNN face detector: same boxes, confidence within 1e-3
#   face_landmarks_parity  5-point landmarks and the aligned chip: exact, ±1 per sample
#   face_verifier          the whole attempt against a virtual card (card front, chip photo,
#                          live frames, liveness) and the wipe of every buffer
# and times an embedding of ours against dlib's. Safe to run again.
#
#   scripts/face-parity.sh            # SHIKAKU_FACE_MODELS overrides target/face-models
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS="${SHIKAKU_FACE_MODELS:-$PWD/target/face-models}"
mkdir -p "$MODELS"
MODELS="$(cd "$MODELS" && pwd)"
export SHIKAKU_FACE_MODELS="$MODELS"

[ -f "$MODELS/resnet-f32.shfr" ] && [ -f "$MODELS/resnet-i8.shfr" ] || scripts/face-models.sh

VENV="$MODELS/venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || {
  echo "face-parity: cannot make a Python venv (Debian: python3-venv)" >&2
  exit 1
}
if ! "$VENV/bin/python" -c 'import dlib, numpy, PIL' 2>/dev/null; then
  echo "face-parity: installing dlib (prebuilt wheel), numpy and Pillow"
  "$VENV/bin/pip" install -q numpy pillow
  "$VENV/bin/pip" install -q --only-binary=:all: dlib-bin \
    || "$VENV/bin/pip" install -q --only-binary=:all: dlib \
    || { echo "face-parity: no prebuilt dlib wheel; building dlib from source (slow)"; "$VENV/bin/pip" install -q dlib; }
fi

command -v opj_decompress >/dev/null || {
  echo "face-parity: opj_decompress missing (Debian libopenjp2-tools; scripts/setup.sh installs it)" >&2
  exit 1
}

OUT="$MODELS/parity"
rm -rf "$OUT"
mkdir -p "$OUT"

# The fixture card's chip photo: tag DF27 of the face record, a JPEG 2000 file.
FIXTURE=../shared/fixtures/myna-testcard/surface-0002.bin
[ -f "$FIXTURE" ] || FIXTURE="$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -path '*myna-card-*/tests/fixtures/surface-0002.bin' 2>/dev/null | head -n1)"
[ -n "$FIXTURE" ] && [ -f "$FIXTURE" ] || { echo "face-parity: fixture surface-0002.bin not found" >&2; exit 1; }
python3 - "$FIXTURE" "$OUT/chip.jp2" <<'EOF'
import sys
b = open(sys.argv[1], 'rb').read()
i = b.find(b'\xdf\x27')
while i >= 0:
    j = i + 2
    n = b[j]; j += 1
    if n & 0x80:
        k = n & 0x7f; n = int.from_bytes(b[j:j + k], 'big'); j += k
    if b[j:j + 12] == bytes.fromhex('0000000c6a5020200d0a870a'):
        open(sys.argv[2], 'wb').write(b[j:j + n]); sys.exit(0)
    i = b.find(b'\xdf\x27', i + 1)
sys.exit("no JP2 under DF27")
EOF
opj_decompress -quiet -i "$OUT/chip.jp2" -o "$OUT/chip.pgm" >/dev/null

"$VENV/bin/python" - "$OUT" "$MODELS/dlib_face_recognition_resnet_model_v1.dat" <<'EOF'
import sys, time
import numpy as np
import dlib

out, model = sys.argv[1], sys.argv[2]

def read_pgm(path):
    b = open(path, 'rb').read()
    fields, i = [], 0
    while len(fields) < 4:
        while b[i:i + 1].isspace(): i += 1
        if b[i:i + 1] == b'#':
            while b[i:i + 1] not in (b'\n', b''): i += 1
            continue
        j = i
        while not b[j:j + 1].isspace(): j += 1
        fields.append(b[i:j]); i = j
    i += 1
    w, h, maxv = int(fields[1]), int(fields[2]), int(fields[3])
    dt = np.uint8 if maxv < 256 else np.dtype('>u2')
    a = np.frombuffer(b, dtype=dt, count=w * h, offset=i).reshape(h, w).astype(np.float64)
    return (a * 255.0 / maxv) if maxv != 255 else a

def resize(a, size):
    # bilinear, pixel centres aligned
    h, w = a.shape[:2]
    ys = (np.arange(size) + 0.5) * h / size - 0.5
    xs = (np.arange(size) + 0.5) * w / size - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 1); y1 = np.clip(y0 + 1, 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 1); x1 = np.clip(x0 + 1, 0, w - 1)
    fy = np.clip(ys - y0, 0, 1)[:, None]; fx = np.clip(xs - x0, 0, 1)[None, :]
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bot = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy

def rgb(grey):
    g = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.stack([g, g, g], axis=-1))

photo = read_pgm(f'{out}/chip.pgm')
h, w = photo.shape
side = min(h, w)
# the card photo is a head-and-shoulders portrait: a square from the top middle, then a
# tighter one around the face (a rough stand-in for the landmark alignment still to come)
top = photo[:side, (w - side) // 2:(w - side) // 2 + side]
face = photo[int(0.12 * h):int(0.12 * h) + int(0.62 * w), int(0.19 * w):int(0.19 * w) + int(0.62 * w)]
rng = np.random.default_rng(6)
yy, xx = np.mgrid[0:150, 0:150]
inputs = {
    'chip-square': rgb(resize(top, 150)),
    'chip-face': rgb(resize(face, 150)),
    'chip-face-mirrored': rgb(resize(face, 150)[:, ::-1]),
    'synthetic-gradient': np.ascontiguousarray(np.stack([xx * 255 / 149, yy * 255 / 149, (xx + yy) * 255 / 298], -1).round().astype(np.uint8)),
    'synthetic-noise': rng.integers(0, 256, (150, 150, 3), dtype=np.uint8),
    'synthetic-checker': rgb(((xx // 10 + yy // 10) % 2) * 200 + 30),
    'synthetic-grey': np.full((150, 150, 3), 128, np.uint8),
}
net = dlib.face_recognition_model_v1(model)
with open(f'{out}/dlib-descriptors.txt', 'w') as f:
    for name, img in inputs.items():
        img.tofile(f'{out}/{name}.rgb')
        d = np.array(net.compute_face_descriptor(img))
        f.write(name + ' ' + ' '.join(repr(float(x)) for x in d) + '\n')
    img = inputs['chip-face']
    net.compute_face_descriptor(img)
    n = 20
    t = time.perf_counter()
    for _ in range(n):
        net.compute_face_descriptor(img)
    ms = (time.perf_counter() - t) * 1000 / n
with open(f'{out}/dlib-time.txt', 'w') as f:
    f.write(f'{ms:.3f}\n')
print(f'face-parity: dlib {dlib.__version__}: {len(inputs)} inputs embedded, {ms:.1f} ms per embedding')
EOF

scripts/face-eval-sources.sh "$MODELS/eval-sources"
"$VENV/bin/python" scripts/face-ref-detect.py "$MODELS" "$MODELS/detect-parity"
"$VENV/bin/python" scripts/face-ref-landmarks.py "$MODELS" "$MODELS/landmarks-ref"

SHIKAKU_REQUIRE_MODELS=1 cargo test -q --locked --release -p shikaku-hil \
  --test face_parity --test face_detect_parity --test face_landmarks_parity --test face_verifier -- --nocapture

# Time per embedding, ours against dlib, interleaved in rounds so that both see the same load
# (the machine may be shared); medians over the rounds.
echo "face-parity: timing on $(nproc) core(s), dlib and ours interleaved (ms per embedding)"
cargo build -q --release -p shikaku-hil --bin shikaku-face-bench
ROUNDS=3
ITER=10
: >"$OUT/times.txt"
for _ in $(seq "$ROUNDS"); do
  "$VENV/bin/python" - "$MODELS/dlib_face_recognition_resnet_model_v1.dat" "$OUT/chip-face.rgb" "$ITER" >>"$OUT/times.txt" <<'EOF'
import resource, sys, time
import numpy as np
import dlib
net = dlib.face_recognition_model_v1(sys.argv[1])
img = np.fromfile(sys.argv[2], dtype=np.uint8).reshape(150, 150, 3)
net.compute_face_descriptor(img)
ms = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter(); net.compute_face_descriptor(img); ms.append((time.perf_counter() - t) * 1000)
ms.sort()
print(f'dlib {ms[len(ms) // 2]:.3f} {ms[0]:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}')
EOF
  for k in f32 i8; do
    cargo run -q --release -p shikaku-hil --bin shikaku-face-bench -- \
      "$MODELS/resnet-$k.shfr" "$OUT/chip-face.rgb" "$ITER" >>"$OUT/times.txt"
  done
done
python3 - "$OUT/times.txt" <<'EOF'
import sys, statistics
t, peak = {}, {}
for line in open(sys.argv[1]):
    k, med, best, rss = line.split()
    t.setdefault(k, []).append((float(med), float(best)))
    peak[k] = max(peak.get(k, 0), int(rss))
med = {k: statistics.median(m for m, _ in v) for k, v in t.items()}
best = {k: min(b for _, b in v) for k, v in t.items()}
macs = 270_854_144
names = {'dlib': 'dlib (Python package)', 'F32': 'ours, f32 weights', 'I8': 'ours, int8 weights'}
for k in ('dlib', 'F32', 'I8'):
    print(f'  {names[k]:<24} median {med[k]:8.1f}   best {best[k]:8.1f}   {macs / best[k] / 1e6:6.2f} GMAC/s'
          f'   peak RSS {peak[k] / 1024:6.1f} MiB')
print(f"  ours/dlib (medians): f32 {med['F32'] / med['dlib']:.2f}, int8 {med['I8'] / med['dlib']:.2f}")
print('  peak RSS: the whole process (Python and dlib; ours holds the weight file in RAM here).')
print('  On the reader ours needs 353,848 bytes of arena RAM, the weights staying in external flash.')
print(f'  {macs:,} multiply-accumulates per embedding; a 480 MHz Cortex-M7 at 2 cycles per f32 MAC')
print(f'  (FPU multiply-add plus loads, weights streamed from external flash) would need about '
      f'{macs * 2 / 480e6:.2f} s (an estimate, not a measurement)')
EOF
