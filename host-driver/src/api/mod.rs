//! Local JSON API.
