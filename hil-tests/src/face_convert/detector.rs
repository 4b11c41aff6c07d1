//! dlib's CNN face detector → our weight file: being written.
