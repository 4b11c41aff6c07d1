//! The one calendar of shikaku (no_std): proleptic Gregorian day numbers, month lengths,
//! calendar-month arithmetic and the Japanese eras. The card's dates, the session's
//! certificate-validity rule, the host's receipt-file timestamps and the virtual card's
//! personas all count days here.
//!
//! Day numbers are days since 1970-01-01 (negative before), computed over 400-year eras with
//! March-based years (Howard Hinnant's `days_from_civil` / `civil_from_days`), exact for every
//! date an `i64` holds.

/// A year, month (1–12) and day (1–31) of the proleptic Gregorian calendar, unchecked.
pub type Civil = (i64, u32, u32);

/// Whether `year` has a 29 February.
pub const fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1–12) of `year`; 0 for a month outside 1–12.
pub const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether `(year, month, day)` is a date of the calendar.
pub const fn is_valid(year: i64, month: u32, day: u32) -> bool {
    day >= 1 && day <= days_in_month(year, month)
}

/// Days since 1970-01-01 of a date.
pub const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number.
pub const fn civil_from_days(days: i64) -> Civil {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// The day `months` calendar months after `days` (before, if negative), the day of month
/// clamped to the target month's end (31 May + 1 month = 30 June).
pub const fn plus_months(days: i64, months: i64) -> i64 {
    let (y, m, d) = civil_from_days(days);
    let index = y * 12 + (m as i64 - 1) + months;
    let (y, m) = (index.div_euclid(12), (index.rem_euclid(12) + 1) as u32);
    let last = days_in_month(y, m);
    days_from_civil(y, m, if d < last { d } else { last })
}

/// A Japanese era (元号).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Era {
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

impl Era {
    /// The number the card and the receipt files use: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和.
    pub const fn number(self) -> u8 {
        match self {
            Era::Meiji => 1,
            Era::Taisho => 2,
            Era::Showa => 3,
            Era::Heisei => 4,
            Era::Reiwa => 5,
        }
    }
}

/// The eras a living card holder can be born in, newest first, with their first day.
const ERAS: [(Era, Civil); 5] = [
    (Era::Reiwa, (2019, 5, 1)),
    (Era::Heisei, (1989, 1, 8)),
    (Era::Showa, (1926, 12, 25)),
    (Era::Taisho, (1912, 7, 30)),
    (Era::Meiji, (1868, 1, 25)),
];

/// The era a date falls in and the year within it (元年 = 1); `None` before Meiji.
pub fn japanese_era(year: i64, month: u32, day: u32) -> Option<(Era, i64)> {
    ERAS.iter().find(|(_, start)| (year, month, day) >= *start).map(|(era, start)| (*era, year - start.0 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip_over_a_thousand_years_and_known_days_match() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for z in (-400_000..400_000).step_by(97).chain([-800_000, -1, 0, 1, 19_000, 20_500, 60_000]) {
            let (y, m, d) = civil_from_days(z);
            assert!(is_valid(y, m, d));
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap_year(2024) && is_leap_year(2000) && !is_leap_year(1900) && !is_leap_year(2026));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2026, 13), 0);
        assert!(!is_valid(2026, 2, 29) && is_valid(2028, 2, 29) && !is_valid(2026, 4, 31));
    }

    #[test]
    fn calendar_months_clamp_to_the_end_of_the_target_month() {
        let day = |y, m, d| days_from_civil(y, m, d);
        assert_eq!(plus_months(day(2026, 11, 30), 3), day(2027, 2, 28));
        assert_eq!(plus_months(day(2027, 11, 30), 3), day(2028, 2, 29));
        assert_eq!(plus_months(day(2026, 5, 31), 1), day(2026, 6, 30));
        assert_eq!(plus_months(day(2026, 1, 15), -2), day(2025, 11, 15));
        assert_eq!(plus_months(day(2026, 3, 31), -1), day(2026, 2, 28));
    }

    #[test]
    fn eras_start_on_their_first_day() {
        assert_eq!(japanese_era(2019, 5, 1), Some((Era::Reiwa, 1)));
        assert_eq!(japanese_era(2019, 4, 30), Some((Era::Heisei, 31)));
        assert_eq!(japanese_era(1989, 1, 7), Some((Era::Showa, 64)));
        assert_eq!(japanese_era(1980, 2, 17), Some((Era::Showa, 55)));
        assert_eq!(japanese_era(1926, 12, 24), Some((Era::Taisho, 15)));
        assert_eq!(japanese_era(1868, 1, 24), None);
        assert_eq!(Era::Heisei.number(), 4);
    }
}
