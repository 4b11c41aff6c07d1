//! Renders fictitious card fronts for the card-front reader's tests: being written.
