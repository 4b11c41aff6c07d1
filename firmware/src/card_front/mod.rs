//! Reading 照合番号B off the card front in a camera frame: being written.
