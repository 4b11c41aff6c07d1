//! Receipt-computer files.
