//! Host driver for shikaku readers.
