//! Unix time → the JST (UTC+9, no daylight saving) digits the files use.

const JST_OFFSET_MS: i64 = 9 * 3600 * 1000;

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day, hour, minute, second) in JST.
pub fn jst_parts(unix_ms: u64) -> (i64, u32, u32, u32, u32, u32) {
    let ms = unix_ms as i64 + JST_OFFSET_MS;
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, (sod / 3600) as u32, (sod / 60 % 60) as u32, (sod % 60) as u32)
}

/// `YYYYMMDD` in JST.
pub fn jst_date(unix_ms: u64) -> String {
    let (y, m, d, ..) = jst_parts(unix_ms);
    format!("{y:04}{m:02}{d:02}")
}

/// `YYYYMMDDHHmmss` in JST.
pub fn jst_datetime(unix_ms: u64) -> String {
    let (y, m, d, hh, mm, ss) = jst_parts(unix_ms);
    format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}")
}

/// Now, in Unix milliseconds.
pub use crate::os::unix_ms as now_unix_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(jst_datetime(0), "19700101090000");
        // 2025-03-31T15:00:00Z is 2025-04-01 00:00 JST.
        assert_eq!(jst_datetime(1_743_433_200_000), "20250401000000");
        // 2024-02-29T23:59:59Z, a leap day, is already March 1 in Japan.
        assert_eq!(jst_date(1_709_251_199_000), "20240301");
    }
}
