//! The 5-point landmark model (dlib's shape predictor, our inference): being written.
