#!/usr/bin/env bash
# One face verification on the reader, ours against the dlib Python package, in one run:
# the card's chip photo (the fixture, 378×472 grey) and six live camera frames (a rendered live
# scene, 320×240 RGB) each go through face detection (dlib's CNN/MMOD detector, no upsampling),
# the 5-point landmarks, the aligned 150×150 chip (padding 0.25) and the ResNet descriptor, then
# six photo–frame distances. The inputs are written once as raw files both sides read
# (shikaku-face-bench write-inputs); dlib (scripts/face-ref-eval.py's pipeline) and ours
# (f32 and int8 embedder weights; hil-tests/src/bin/shikaku-face-bench.rs) run interleaved in
# rounds so that both see the same load on a shared machine; medians over the rounds.
#
# Prints rows `face|what|value|unit|note` (scripts/bench.sh's format) on stdout, progress on
# stderr. Exits 3 with "SKIPPED: …" on stderr when the models or the dlib venv are missing.
#
#   scripts/face-bench.sh     # FACE_BENCH_ROUNDS (3), FACE_BENCH_ITER (2 per process),
#                             # SHIKAKU_FACE_MODELS overrides target/face-models
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${FACE_BENCH_ROUNDS:-3}"
ITER="${FACE_BENCH_ITER:-2}"
MODELS="${SHIKAKU_FACE_MODELS:-$PWD/target/face-models}"

skip() {
  echo "face-bench: SKIPPED: $*" >&2
  exit 3
}
for f in detector.shdt landmarks5.shlm resnet-f32.shfr resnet-i8.shfr mmod_human_face_detector.dat \
  shape_predictor_5_face_landmarks.dat dlib_face_recognition_resnet_model_v1.dat; do
  [ -f "$MODELS/$f" ] || skip "$MODELS/$f missing (scripts/face-models.sh, scripts/face-parity.sh)"
done
MODELS="$(cd "$MODELS" && pwd)"
PY=""
for v in "$MODELS/venv" /tmp/facework/venv; do
  if [ -x "$v/bin/python" ] && "$v/bin/python" -c 'import dlib, numpy' 2>/dev/null; then
    PY="$v/bin/python"
    break
  fi
done
[ -n "$PY" ] || skip "no Python venv with dlib and numpy (scripts/face-parity.sh makes $MODELS/venv)"

echo "face-bench: building shikaku-face-bench" >&2
cargo build -q --release -p shikaku-hil --bin shikaku-face-bench
TARGET_DIR="$(cargo metadata -q --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
BENCH="$TARGET_DIR/release/shikaku-face-bench"

OUT="$MODELS/face-bench"
rm -rf "$OUT"
mkdir -p "$OUT/inputs"
"$BENCH" write-inputs "$OUT/inputs" 2>&1 | sed 's/^/face-bench: /' >&2
"$BENCH" costs "$OUT/inputs" >"$OUT/costs.txt"

cat >"$OUT/dlib-verify.py" <<'EOF'
# One verification with the dlib Python package: dlib-verify.py MODELS INPUT_DIR ITERATIONS
# → "dlib median_ms min_ms peak_rss_kib cpu_ms" on stdout (cpu_ms: the process's CPU time per
# verification, median; above the wall time if dlib used more than one thread), the distances
# on stderr. With a 4th argument `split`: "split-dlib detector_ms landmarks_chip_ms
# embedder_ms total_ms" (medians per verification of each stage).
import os, resource, sys, time
import numpy as np
import dlib

models, inputs, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
det = dlib.cnn_face_detection_model_v1(os.path.join(models, "mmod_human_face_detector.dat"))
sp = dlib.shape_predictor(os.path.join(models, "shape_predictor_5_face_landmarks.dat"))
net = dlib.face_recognition_model_v1(os.path.join(models, "dlib_face_recognition_resnet_model_v1.dat"))

images = []
for line in open(os.path.join(inputs, "inputs.txt")):
    if not line.strip():
        continue
    name, w, h, c = line.split()
    w, h, c = int(w), int(h), int(c)
    raw = open(os.path.join(inputs, name), "rb").read()
    a = np.frombuffer(raw[len(raw) - w * h * c:], dtype=np.uint8).reshape(h, w, c)
    # grey → RGB, as dlib.load_rgb_image gives a grey file (and as our detector reads grey)
    images.append((name, np.ascontiguousarray(np.repeat(a, 3, axis=2) if c == 1 else a)))


def describe(name, img, split=None):
    t0 = time.perf_counter()
    dets = det(img, 0)
    if len(dets) == 0:
        sys.exit(f"dlib: no face in {name}")
    r = max(dets, key=lambda d: d.rect.width() * d.rect.height()).rect
    t1 = time.perf_counter()
    shape = sp(img, r)
    chip = dlib.get_face_chip(img, shape, size=150, padding=0.25)
    t2 = time.perf_counter()
    d = np.array(net.compute_face_descriptor(chip))
    if split is not None:
        split[0] += t1 - t0
        split[1] += t2 - t1
        split[2] += time.perf_counter() - t2
    return d


def verification(split=None):
    ref = describe(*images[0], split)
    return [float(np.linalg.norm(ref - describe(*i, split))) for i in images[1:]]


dist = verification()  # warm-up
if sys.argv[4:] == ["split"]:
    runs = []
    for _ in range(n):
        s = [0.0, 0.0, 0.0]
        verification(s)
        runs.append(s + [sum(s)])
    med = [sorted(r[i] for r in runs)[len(runs) // 2] * 1000 for i in range(4)]
    print("split-dlib " + " ".join(f"{x:.3f}" for x in med))
    sys.exit(0)
wall, cpu = [], []
for _ in range(n):
    t, c = time.perf_counter(), time.process_time()
    verification()
    wall.append((time.perf_counter() - t) * 1000)
    cpu.append((time.process_time() - c) * 1000)
wall.sort()
cpu.sort()
print("distances dlib " + " ".join(f"{d:.4f}" for d in dist), file=sys.stderr)
print(f"dlib {wall[len(wall) // 2]:.3f} {wall[0]:.3f} "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} {cpu[len(cpu) // 2]:.3f}")
EOF

echo "face-bench: $ROUNDS rounds × $ITER verifications per process on $(nproc) core(s), dlib $("$PY" -c 'import dlib; print(dlib.__version__)') and ours interleaved" >&2
: >"$OUT/times.txt"
: >"$OUT/distances.txt"
for r in $(seq "$ROUNDS"); do
  echo "face-bench: round $r/$ROUNDS" >&2
  "$PY" "$OUT/dlib-verify.py" "$MODELS" "$OUT/inputs" "$ITER" >>"$OUT/times.txt" 2>>"$OUT/distances.txt"
  for k in f32 i8; do
    "$BENCH" verify "$MODELS" "$k" "$OUT/inputs" "$ITER" >>"$OUT/times.txt" 2>>"$OUT/distances.txt"
  done
done
echo "face-bench: time split (stage by stage)" >&2
"$PY" "$OUT/dlib-verify.py" "$MODELS" "$OUT/inputs" "$ITER" split >>"$OUT/split.txt"
for k in f32 i8; do
  "$BENCH" split "$MODELS" "$k" "$OUT/inputs" "$ITER" >>"$OUT/split.txt"
done

python3 - "$OUT" "$(nproc)" <<'EOF'
import statistics, sys
out, cores = sys.argv[1], int(sys.argv[2])
t, best, peak, cpu = {}, {}, {}, {}
for line in open(f"{out}/times.txt"):
    f = line.split()
    k = f[0]
    t.setdefault(k, []).append(float(f[1]))
    best[k] = min(best.get(k, float("inf")), float(f[2]))
    peak[k] = max(peak.get(k, 0), int(f[3]))
    if len(f) > 4:
        cpu.setdefault(k, []).append(float(f[4]))
med = {k: statistics.median(v) for k, v in t.items()}
rounds = len(t["dlib"])
dist = {}
for line in open(f"{out}/distances.txt"):
    f = line.split()
    if f[:1] == ["distances"]:
        dist[f[1]] = [float(x) for x in f[2:]]
n_img = sum(1 for l in open(f"{out}/inputs/inputs.txt") if l.strip())
_, macs, det_macs, emb_macs, arena = open(f"{out}/costs.txt").read().split()
macs, det_macs, emb_macs, arena = int(macs), int(det_macs), int(emb_macs), int(arena)
split = {}
for line in open(f"{out}/split.txt"):
    f = line.split()
    split[f[0].removeprefix("split-")] = [float(x) for x in f[1:]]

rows = []
def row(what, value, unit, note):
    rows.append(f"face|{what}|{value}|{unit}|{note}")

def dists(k):
    d = dist.get(k, [])
    return f"photo–frame distances {min(d):.3f}–{max(d):.3f}" if d else "distances not reported"

names = {"dlib": "dlib (Python package)", "F32": "ours, f32 embedder", "I8": "ours, int8 embedder"}
cmed = {k: statistics.median(v) for k, v in cpu.items() if len(v) == rounds}
for k in ("dlib", "F32", "I8"):
    note = f"wall clock, median of {rounds} rounds (each the median of its process); best {best[k]:.0f} ms; {dists(k)}"
    row(f"{names[k]}: ms per verification", f"{med[k]:.0f}", "ms", note)
for k in ("dlib", "F32", "I8"):
    if k in cmed:
        who = "all threads of the process" if k == "dlib" else "its one thread"
        row(f"{names[k]}: CPU ms per verification", f"{cmed[k]:.0f}", "ms",
            f"CPU time of {who}, median; {cmed[k] / med[k]:.2f} × the wall clock")
for k in ("F32", "I8"):
    label = names[k].removeprefix("ours, ")
    row(f"ours/dlib, {label}, wall clock", f"{med[k] / med['dlib']:.2f}", "×",
        f"ratio of the medians ({cores} cores shared; below 1: ours is faster)")
    if k in cmed and "dlib" in cmed:
        row(f"ours/dlib, {label}, CPU time", f"{cmed[k] / cmed['dlib']:.2f}", "×",
            "ratio of the CPU-time medians (less sensitive to other load on the machine)")
row("peak RSS, dlib process", f"{peak['dlib'] / 1024:.1f}", "MiB",
    "Python, numpy, dlib and its three models")
for k in ("F32", "I8"):
    row(f"peak RSS, {names[k]} process", f"{peak[k] / 1024:.1f}", "MiB",
        "holds the three weight files in RAM; on the reader they stay in flash")
row("arena RAM per verification (ours, on the reader)", f"{arena:,}", "bytes",
    "f32 arena for the largest image (detector, then embedder), plus the 67,500-byte chip buffer")
row("multiply-accumulates per verification", f"{macs / 1e9:.2f}", "GMAC",
    f"detector {det_macs / 1e9:.2f} G (photo and {n_img - 1} frames), embedder {emb_macs / 1e9:.2f} G ({n_img} × {emb_macs // n_img:,})")
row("projection: 480 MHz Cortex-M7, 2 cycles per MAC", f"{macs * 2 / 480e6:.1f}", "s",
    "an estimate from the MAC count, not a measurement (FPU multiply-add plus loads, weights from external flash)")
for k in ("F32", "I8", "dlib"):
    if k not in split:
        continue
    det, lm, emb, total = split[k]
    label = "dlib" if k == "dlib" else "ours " + names[k].removeprefix("ours, ")
    for what, v in (("detector", det), ("landmarks + chip", lm), ("embedder", emb)):
        row(f"{label} split: {what}", f"{v:.0f}", "ms",
            f"{100 * v / total:.1f} % of {total:.0f} ms (a separate stage-by-stage run, medians)")
print("\n".join(rows))
EOF
