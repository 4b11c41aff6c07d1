//! One logging shim for every shikaku crate: `defmt` on the reader, `log` on the host, nothing
//! otherwise.
//!
//! The macros expand in the calling crate, so that crate's `defmt` and `log` features choose the
//! backend (and it names `defmt` / `log` as optional dependencies of its own). Enabling both is
//! a build error in the caller ([`check_features!`]). With neither, the arguments are still
//! evaluated by reference, so a value used only for logging does not warn as unused.
//!
//! Never pass a PIN, a My Number or a full name to these macros: a log line leaves the reader
//! on a debug probe or a host's log file.
#![no_std]

/// Put `shikaku_fmt::check_features!();` at the root of a crate that uses the shim: `defmt`
/// and `log` together would log every line twice in two formats.
#[macro_export]
macro_rules! check_features {
    () => {
        #[cfg(all(feature = "defmt", feature = "log"))]
        compile_error!("the features `defmt` and `log` are exclusive: pick one backend");
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log {
    ($level:ident, $s:literal $(, $x:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::$level!($s $(, $x)*);
        #[cfg(all(feature = "log", not(feature = "defmt")))]
        ::log::$level!($s $(, $x)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = ($(&$x),*);
    }};
}

/// Logs at trace level.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::__log!(trace, $($arg)*) };
}

/// Logs at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::__log!(debug, $($arg)*) };
}

/// Logs at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::__log!(info, $($arg)*) };
}

/// Logs at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::__log!(warn, $($arg)*) };
}

/// Logs at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::__log!(error, $($arg)*) };
}
