//! Renders live-face and replay-attack frame sequences for the face tests: being written.
