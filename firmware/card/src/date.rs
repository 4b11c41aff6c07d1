//! Calendar dates as the card writes them: `YYYYMMDD` in records, UTCTime / GeneralizedTime in
//! certificates, and the Japanese-era `YYMMDD` printed on the card face.

use super::ParseError;
use crate::calendar;

/// A Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// A UTC date and time of day (certificate validity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DateTime {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

pub use crate::calendar::Era;

fn digits<const N: usize>(s: &[u8]) -> Result<u32, ParseError> {
    if s.len() != N {
        return Err(ParseError::InvalidDate);
    }
    s.iter().try_fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            Ok(acc * 10 + u32::from(c - b'0'))
        } else {
            Err(ParseError::InvalidDate)
        }
    })
}

impl Date {
    /// A checked calendar date.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, ParseError> {
        if !calendar::is_valid(i64::from(year), u32::from(month), u32::from(day)) {
            return Err(ParseError::InvalidDate);
        }
        Ok(Self { year, month, day })
    }

    /// Parses the records' `YYYYMMDD` (ASCII digits).
    pub fn parse_yyyymmdd(s: &[u8]) -> Result<Self, ParseError> {
        if s.len() != 8 {
            return Err(ParseError::InvalidDate);
        }
        let year = digits::<4>(&s[..4])? as u16;
        let month = digits::<2>(&s[4..6])? as u8;
        let day = digits::<2>(&s[6..8])? as u8;
        Self::new(year, month, day)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_unix_epoch(&self) -> i64 {
        calendar::days_from_civil(i64::from(self.year), u32::from(self.month), u32::from(self.day))
    }

    /// The era this date falls in and the year within it (元年 = 1); `None` before Meiji.
    pub fn japanese_era(&self) -> Option<(Era, u16)> {
        calendar::japanese_era(i64::from(self.year), u32::from(self.month), u32::from(self.day))
            .map(|(era, year)| (era, year as u16))
    }

    /// The six ASCII digits `YYMMDD` with the year in its Japanese era, as printed on the card
    /// front and used in 照合番号B (1980-02-17 → `550217`, 昭和55年).
    pub fn japanese_era_yymmdd(&self) -> Option<[u8; 6]> {
        let (_, year) = self.japanese_era()?;
        if year > 99 {
            return None;
        }
        let two = |v: u16| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        let [y0, y1] = two(year);
        let [m0, m1] = two(u16::from(self.month));
        let [d0, d1] = two(u16::from(self.day));
        Some([y0, y1, m0, m1, d0, d1])
    }
}

impl DateTime {
    /// Seconds since 1970-01-01T00:00:00Z: what the session's validity rule and the clock
    /// work in.
    pub fn unix_seconds(&self) -> i64 {
        self.date.days_since_unix_epoch() * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// Parses an ASN.1 UTCTime `YYMMDDhhmm[ss]Z` (years 50..99 are 19xx, per RFC 5280).
    pub fn parse_utc_time(s: &[u8]) -> Result<Self, ParseError> {
        let (body, z) = s.split_at(s.len().saturating_sub(1));
        if z != b"Z" || !(body.len() == 10 || body.len() == 12) {
            return Err(ParseError::InvalidDate);
        }
        let yy = digits::<2>(&body[..2])? as u16;
        let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
        Self::from_parts(year, &body[2..])
    }

    /// Parses an ASN.1 GeneralizedTime `YYYYMMDDhhmmssZ`.
    pub fn parse_generalized_time(s: &[u8]) -> Result<Self, ParseError> {
        let (body, z) = s.split_at(s.len().saturating_sub(1));
        if z != b"Z" || body.len() != 14 {
            return Err(ParseError::InvalidDate);
        }
        let year = digits::<4>(&body[..4])? as u16;
        Self::from_parts(year, &body[4..])
    }

    /// `rest` is `MMDDhhmm[ss]`.
    fn from_parts(year: u16, rest: &[u8]) -> Result<Self, ParseError> {
        let date = Date::new(year, digits::<2>(&rest[..2])? as u8, digits::<2>(&rest[2..4])? as u8)?;
        let hour = digits::<2>(&rest[4..6])? as u8;
        let minute = digits::<2>(&rest[6..8])? as u8;
        let second = if rest.len() == 10 { digits::<2>(&rest[8..10])? as u8 } else { 0 };
        if hour > 23 || minute > 59 || second > 59 {
            return Err(ParseError::InvalidDate);
        }
        Ok(Self { date, hour, minute, second })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_certificates() {
        assert_eq!(Date::parse_yyyymmdd(b"19800217"), Ok(Date { year: 1980, month: 2, day: 17 }));
        assert_eq!(Date::parse_yyyymmdd(b"19800230"), Err(ParseError::InvalidDate));
        assert_eq!(Date::parse_yyyymmdd(b"2000022x"), Err(ParseError::InvalidDate));
        assert_eq!(Date::parse_yyyymmdd(b"20000229").map(|d| d.day), Ok(29));
        assert_eq!(Date::parse_yyyymmdd(b"19000229"), Err(ParseError::InvalidDate));
        let t = DateTime::parse_utc_time(b"250131150000Z").unwrap();
        assert_eq!((t.date.year, t.date.month, t.date.day, t.hour), (2025, 1, 31, 15));
        assert_eq!(DateTime::parse_utc_time(b"991231235959Z").unwrap().date.year, 1999);
        assert!(DateTime::parse_utc_time(b"251331150000Z").is_err());
        assert!(DateTime::parse_utc_time(b"2501311500").is_err());
        assert!(DateTime::parse_utc_time(b"").is_err());
        let g = DateTime::parse_generalized_time(b"20500101000000Z").unwrap();
        assert_eq!(g.date.year, 2050);
    }

    #[test]
    fn unix_time() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_unix_epoch(), 0);
        assert_eq!(Date::new(1969, 12, 31).unwrap().days_since_unix_epoch(), -1);
        assert_eq!(Date::new(2000, 3, 1).unwrap().days_since_unix_epoch(), 11_017);
        let t = DateTime::parse_utc_time(b"300217145959Z").unwrap();
        assert_eq!(t.unix_seconds(), 1_897_570_799);
        let t = DateTime::parse_generalized_time(b"19691231235959Z").unwrap();
        assert_eq!(t.unix_seconds(), -1);
    }

    #[test]
    fn japanese_era() {
        let d = Date::new(1980, 2, 17).unwrap();
        assert_eq!(d.japanese_era(), Some((Era::Showa, 55)));
        assert_eq!(&d.japanese_era_yymmdd().unwrap(), b"550217");
        assert_eq!(Date::new(1989, 1, 7).unwrap().japanese_era(), Some((Era::Showa, 64)));
        assert_eq!(Date::new(1989, 1, 8).unwrap().japanese_era(), Some((Era::Heisei, 1)));
        assert_eq!(Date::new(2019, 4, 30).unwrap().japanese_era(), Some((Era::Heisei, 31)));
        assert_eq!(&Date::new(2019, 5, 1).unwrap().japanese_era_yymmdd().unwrap(), b"010501");
        assert_eq!(Date::new(1850, 1, 1).unwrap().japanese_era(), None);
    }
}
