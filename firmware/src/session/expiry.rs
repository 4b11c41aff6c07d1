//! The certificate-validity rule of DESIGN §3: alert when at most 3 months remain, accept for
//! eligibility only within 3 months after expiry, refuse after that. Months are calendar
//! months (a date plus 3 months, the day clamped to the month's end), days are UTC days.

use shikaku_protocol::message::CertExpiry;

/// `day` plus three calendar months.
pub fn plus_three_months(day: i64) -> i64 {
    shikaku_card::calendar::plus_months(day, 3)
}

/// What the reader does with a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Validity {
    Valid {
        days_left: u16,
    },
    /// Valid, but at most 3 months remain: show the renewal alert, then continue.
    ExpiringSoon {
        days_left: u16,
    },
    /// Expired, within 3 months: eligibility only, no medical-information consents.
    Grace {
        days_past: u16,
    },
    /// Expired more than 3 months ago.
    Refused {
        days_past: u16,
    },
}

impl Validity {
    /// `not_after_unix_s` from the certificate, `now_unix_s` from the synchronised clock.
    pub fn judge(not_after_unix_s: i64, now_unix_s: i64) -> Self {
        let end = not_after_unix_s.div_euclid(86_400);
        let today = now_unix_s.div_euclid(86_400);
        let clamp = |d: i64| d.clamp(0, u16::MAX as i64) as u16;
        if now_unix_s <= not_after_unix_s {
            let days_left = clamp(end - today);
            if plus_three_months(today) >= end {
                Validity::ExpiringSoon { days_left }
            } else {
                Validity::Valid { days_left }
            }
        } else {
            let days_past = clamp(today - end);
            if today <= plus_three_months(end) {
                Validity::Grace { days_past }
            } else {
                Validity::Refused { days_past }
            }
        }
    }

    pub fn to_wire(self) -> CertExpiry {
        match self {
            Validity::Valid { days_left } | Validity::ExpiringSoon { days_left } => {
                CertExpiry::DaysLeft(days_left)
            }
            Validity::Grace { days_past } | Validity::Refused { days_past } => {
                CertExpiry::DaysPast(days_past)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shikaku_card::calendar::{civil_from_days, days_from_civil};

    fn ts(y: i64, m: u32, d: u32) -> i64 {
        days_from_civil(y, m, d) * 86_400 + 12 * 3600
    }

    #[test]
    fn three_calendar_months_clamp_to_month_end() {
        assert_eq!(civil_from_days(plus_three_months(days_from_civil(2026, 11, 30))), (2027, 2, 28));
        assert_eq!(civil_from_days(plus_three_months(days_from_civil(2027, 11, 30))), (2028, 2, 29));
        assert_eq!(civil_from_days(plus_three_months(days_from_civil(2026, 1, 31))), (2026, 4, 30));
    }

    #[test]
    fn the_rule_at_its_edges() {
        let end = ts(2027, 2, 20);
        assert_eq!(Validity::judge(end, ts(2026, 11, 19)), Validity::Valid { days_left: 93 });
        assert_eq!(Validity::judge(end, ts(2026, 11, 20)), Validity::ExpiringSoon { days_left: 92 });
        assert_eq!(Validity::judge(end, ts(2027, 2, 20) - 1), Validity::ExpiringSoon { days_left: 0 });
        assert_eq!(Validity::judge(end, ts(2027, 2, 21)), Validity::Grace { days_past: 1 });
        assert_eq!(Validity::judge(end, ts(2027, 5, 20)), Validity::Grace { days_past: 89 });
        assert_eq!(Validity::judge(end, ts(2027, 5, 21)), Validity::Refused { days_past: 90 });
    }
}
