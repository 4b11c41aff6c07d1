//! dlib's 5-point shape predictor → our model file: being written.
