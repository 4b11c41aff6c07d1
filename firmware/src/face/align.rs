//! Alignment of a face to the embedder's 150×150 chip: being written.
