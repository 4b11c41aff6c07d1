//! Unix time → the JST (UTC+9, no daylight saving) digits the files use.

const JST_OFFSET_MS: i64 = 9 * 3600 * 1000;

use shikaku_card::calendar::civil_from_days;

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
