#!/usr/bin/env bash
# The face engine's accuracy on the set the project can make (see
# hil-tests/src/face_eval/ci_set.rs): makes the set, gets dlib's own decisions on it (the
# `dlib` package in the venv scripts/face-parity.sh sets up), and runs shikaku-face-eval with
# --check: every impostor pair rejected, a genuine fixture pair accepted, every decision the
# same as dlib's, no print or screen-photo attack accepted. Report, scores and DET curve go to
# target/face-eval/report/.
#
#   scripts/face-eval.sh          SHIKAKU_FACE_MODELS overrides target/face-models
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS="${SHIKAKU_FACE_MODELS:-$PWD/target/face-models}"
mkdir -p "$MODELS"
MODELS="$(cd "$MODELS" && pwd)"
OUT="$PWD/target/face-eval"
SET="$OUT/set"

for f in detector.shdt landmarks5.shlm resnet-f32.shfr resnet-i8.shfr; do
  [ -s "$MODELS/$f" ] || { SHIKAKU_FACE_MODELS="$MODELS" scripts/face-models.sh; break; }
done
scripts/face-eval-sources.sh "$MODELS/eval-sources"

EVAL=(cargo run --locked --release -q -p shikaku-hil --bin shikaku-face-eval --)
"${EVAL[@]}" --make-ci-set "$SET" --make-only --sources "$MODELS/eval-sources" --models "$MODELS" --out "$OUT/report"

VENV="$MODELS/venv"
REF=()
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import dlib, numpy' 2>/dev/null; then
  "$VENV/bin/python" scripts/face-ref-eval.py "$SET/pairs.txt" "$SET" "$MODELS" "$OUT/dlib-reference.tsv"
  REF=(--reference "$OUT/dlib-reference.tsv")
elif [ "${SHIKAKU_REQUIRE_MODELS:-}" = 1 ]; then
  echo "face-eval: no dlib venv in $VENV (scripts/face-parity.sh makes it)" >&2
  exit 1
else
  echo "face-eval: no dlib venv: decisions are not compared with dlib's (run scripts/face-parity.sh)"
fi

echo "--- embedder weights: f32, with the attack presentations"
"${EVAL[@]}" --pairs "$SET/pairs.txt" --root "$SET" --attacks "$SET/attacks.txt" --models "$MODELS" \
  --weights f32 --out "$OUT/report-f32" "${REF[@]}" --check
# Liveness does not depend on the embedder's weights: the int8 run scores the pairs only.
echo "--- embedder weights: int8"
"${EVAL[@]}" --pairs "$SET/pairs.txt" --root "$SET" --models "$MODELS" \
  --weights i8 --out "$OUT/report-i8" "${REF[@]}" --check
