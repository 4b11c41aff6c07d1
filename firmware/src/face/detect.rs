//! The face detector (dlib's CNN detector, our inference): being written.
