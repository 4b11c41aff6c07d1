//! Personas: who the virtual card belongs to and in which state it is.
//!
//! A persona is a small, serialisable description (built-in table below, or a TOML file with
//! `[[persona]]` tables of the same fields); [`crate::vcard::build`] turns it into card contents.

use serde::Deserialize;
use std::fmt;

use shikaku_card::calendar;
use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar date (Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

/// A UTC timestamp with second resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Date {
    pub const fn new(year: i32, month: u8, day: u8) -> Self {
        Date { year, month, day }
    }

    /// Parses `YYYY-MM-DD` or `YYYYMMDD`.
    pub fn parse(s: &str) -> Option<Date> {
        let digits: String = s.chars().filter(|c| *c != '-').collect();
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let d = Date {
            year: digits[0..4].parse().ok()?,
            month: digits[4..6].parse().ok()?,
            day: digits[6..8].parse().ok()?,
        };
        ((1..=12).contains(&d.month) && (1..=31).contains(&d.day)).then_some(d)
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        calendar::days_from_civil(i64::from(self.year), u32::from(self.month), u32::from(self.day))
    }

    pub fn from_days(days: i64) -> Date {
        let (year, month, day) = calendar::civil_from_days(days);
        Date { year: year as i32, month: month as u8, day: day as u8 }
    }

    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.days() + n)
    }

    /// The same month and day in another year (29 Feb becomes 28 Feb in common years).
    pub fn with_year(self, year: i32) -> Date {
        let mut d = Date { year, ..self };
        if Date::from_days(d.days()) != d {
            d.day -= 1;
        }
        d
    }

    /// Today in UTC.
    pub fn today() -> Date {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        Date::from_days(secs.div_euclid(86_400))
    }

    pub fn at(self, hour: u8, minute: u8, second: u8) -> DateTime {
        DateTime { year: self.year, month: self.month, day: self.day, hour, minute, second }
    }

    /// `YYYYMMDD` as ASCII.
    pub fn yyyymmdd(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// Japanese era and year within it: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和.
    pub fn era(self) -> (u8, i32) {
        match calendar::japanese_era(i64::from(self.year), u32::from(self.month), u32::from(self.day)) {
            Some((era, year)) => (era.number(), year as i32),
            // Before Meiji: counted as Meiji, as the card would never see it.
            None => (1, self.year - 1867),
        }
    }

    /// 和暦 `YYMMDD` as printed on the card (the DOB key of the surface AP, first part of 照合番号B).
    pub fn wareki_yymmdd(self) -> String {
        let (_, y) = self.era();
        format!("{:02}{:02}{:02}", y, self.month, self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad date {s:?}")))
    }
}

/// What kind of token answers: decides the JPKI token info and the access rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CardKind {
    /// Physical My Number card: JPKI + 券面 APs; token info `JPKIAPICCTOKEN2`.
    #[default]
    Physical,
    /// Android スマホ用電子証明書: JPKI only, auth certificate behind the PIN; `JPKIAPGPSETOKEN`.
    Android,
    /// iPhone: JPKI only; the phone confirms its owner itself, then the auth certificate and
    /// key answer without a VERIFY from the reader (DESIGN §1: "iPhone users confirm on the
    /// phone"); `JPKIAPIOSTOKEN`.
    Iphone,
}

impl CardKind {
    pub fn token_label(self) -> &'static str {
        match self {
            CardKind::Physical => "JPKIAPICCTOKEN2",
            CardKind::Android => "JPKIAPGPSETOKEN",
            CardKind::Iphone => "JPKIAPIOSTOKEN",
        }
    }
}

/// The state of the JPKI certificates relative to today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CertState {
    /// Issued about a year ago, valid until the 5th birthday after issue.
    #[default]
    Valid,
    /// Expires 60 days from today (inside the 3-month warning window).
    Expiring,
    /// Expired 30 days ago (inside the 3-month grace for eligibility).
    Expired,
    /// Expired 200 days ago (beyond the grace period).
    Lapsed,
}

/// Where the card contents come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Everything generated from the persona (own test CA).
    #[default]
    Generated,
    /// Real test-card bytes from the fixtures for every file that needs no private key.
    Fixture,
}

/// One persona. Field names are also the TOML keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    /// Short id used on the command line.
    pub id: String,
    #[serde(default)]
    pub description: String,
    /// 氏名, family and given name separated by U+3000.
    pub name: String,
    pub birth_date: Date,
    pub address: String,
    /// 性別: 1 male, 2 female, 9 not applicable.
    #[serde(default = "default_sex")]
    pub sex: u8,
    /// 有効期限 of the card itself.
    pub card_expiry: Date,
    /// 個人番号 (12 digits). Empty: derived from the id with a valid check digit.
    #[serde(default)]
    pub my_number: String,
    /// The 4-digit セキュリティコード printed on the front (part of 照合番号B).
    #[serde(default = "default_security_code")]
    pub security_code: String,
    /// 利用者証明用 PIN, also the 券面事項入力補助 PIN. `None`: PIN-less 顔認証マイナンバーカード.
    #[serde(default)]
    pub pin: Option<String>,
    /// 署名用パスワード. `None`: no signature certificate issued.
    #[serde(default)]
    pub sign_password: Option<String>,
    #[serde(default = "three")]
    pub auth_tries: u8,
    #[serde(default = "five")]
    pub sign_tries: u8,
    #[serde(default = "three")]
    pub text_tries: u8,
    #[serde(default)]
    pub cert: CertState,
    #[serde(default)]
    pub kind: CardKind,
    #[serde(default)]
    pub source: Source,
    /// Municipality: prefecture and city in romaji (certificate subject), and the 5-digit code.
    #[serde(default = "default_pref")]
    pub prefecture: String,
    #[serde(default = "default_city")]
    pub city: String,
    #[serde(default = "default_muni")]
    pub municipality_code: String,
}

fn default_sex() -> u8 {
    1
}
fn default_security_code() -> String {
    "1234".into()
}
fn three() -> u8 {
    3
}
fn five() -> u8 {
    5
}
fn default_pref() -> String {
    "Tokyo-to".into()
}
fn default_city() -> String {
    "Chiyoda-ku".into()
}
fn default_muni() -> String {
    "13101".into()
}

/// Check digit of a 個人番号 (the 11 first digits given).
pub fn my_number_check_digit(first11: &[u8; 11]) -> u8 {
    let mut sum = 0u32;
    for n in 1..=11u32 {
        let p = u32::from(first11[11 - n as usize] - b'0');
        let q = if n <= 6 { n + 1 } else { n - 5 };
        sum += p * q;
    }
    let r = sum % 11;
    if r <= 1 {
        b'0'
    } else {
        b'0' + (11 - r) as u8
    }
}

impl Persona {
    /// 12-digit 個人番号 (explicit or derived from the id).
    pub fn my_number(&self) -> String {
        if self.my_number.len() == 12 {
            return self.my_number.clone();
        }
        let h = crate::vcard::keys::digest(&["my-number", &self.id]);
        let mut d = [0u8; 11];
        for (i, x) in d.iter_mut().enumerate() {
            *x = b'0' + h[i] % 10;
        }
        if d[0] == b'0' {
            d[0] = b'4';
        }
        let mut s = String::from_utf8_lossy(&d).into_owned();
        s.push(my_number_check_digit(&d) as char);
        s
    }

    /// 照合番号B: 和暦 YYMMDD of birth + expiry year + security code (14 digits).
    pub fn code_b(&self) -> String {
        format!("{}{:04}{}", self.birth_date.wareki_yymmdd(), self.card_expiry.year, self.security_code)
    }

    /// 照合番号A is the 個人番号.
    pub fn code_a(&self) -> String {
        self.my_number()
    }

    /// 性別 as the ASCII digit the card stores (`1`, `2` or `9`).
    pub fn sex_digit(&self) -> u8 {
        match self.sex {
            1 | b'1' => b'1',
            2 | b'2' => b'2',
            _ => b'9',
        }
    }

    pub fn has_pin(&self) -> bool {
        self.pin.is_some()
    }

    /// One line for `--list`.
    pub fn summary(&self) -> String {
        let pin = match &self.pin {
            Some(p) => format!("PIN {p} ({} tries left)", self.auth_tries),
            None => "no PIN (顔認証マイナンバーカード)".into(),
        };
        let sign = match &self.sign_password {
            Some(p) => format!("sign password {p} ({} left)", self.sign_tries),
            None => "no signature certificate".into(),
        };
        let src = match self.source {
            Source::Fixture => {
                " | real test-card bytes for every file; signatures by a GENERATED key \
                 (they do not verify with the fixture certificates)"
            }
            Source::Generated => "",
        };
        format!(
            "{:<10} {} | {} | born {} | {:?} card, cert {:?} | {} | {} | 照合番号B {}{}{}",
            self.id,
            self.name,
            self.address,
            self.birth_date,
            self.kind,
            self.cert,
            pin,
            sign,
            self.code_b(),
            if self.description.is_empty() { "" } else { " | " },
            self.description,
        ) + src
    }
}

/// TOML file layout: `[[persona]]` tables.
#[derive(Deserialize)]
struct PersonaFile {
    persona: Vec<Persona>,
}

/// Parses a TOML persona file.
pub fn parse_toml(text: &str) -> Result<Vec<Persona>, String> {
    toml::from_str::<PersonaFile>(text).map(|f| f.persona).map_err(|e| e.to_string())
}

/// The built-in personas.
pub fn builtin() -> Vec<Persona> {
    parse_toml(BUILTIN).expect("built-in persona table parses")
}

/// Looks a persona up by id among the built-ins.
pub fn find(id: &str) -> Option<Persona> {
    builtin().into_iter().find(|p| p.id == id)
}

const BUILTIN: &str = r#"
[[persona]]
id = "fixture"
description = "the real JPKI test card of the fixtures"
name = "黒桐　幹也"
birth_date = "1980-02-17"
address = "東京都清瀬市観布子南１２－７－２０２"
sex = 1
card_expiry = "2035-02-17"
my_number = "537686677188"
security_code = "2285"
pin = "1234"
sign_password = "SHIKAKU1"
source = "fixture"
prefecture = "Tokyo-to"
city = "Kiyose-shi"
municipality_code = "13221"

[[persona]]
id = "yamada"
description = "ordinary physical card, everything valid"
name = "山田　太郎"
birth_date = "1975-04-01"
address = "東京都千代田区霞が関２－１－２"
sex = 1
card_expiry = "2034-04-01"
security_code = "4821"
pin = "1234"
sign_password = "YAMADA2024"

[[persona]]
id = "takasaki"
description = "name outside JIS X 0208 (髙, 﨑, 𠮷); era boundary birth date (平成元年1月8日)"
name = "髙﨑　𠮷乃"
birth_date = "1989-01-08"
address = "大阪府大阪市北区中之島１－３－２０"
sex = 2
card_expiry = "2033-01-08"
security_code = "0907"
pin = "8080"
sign_password = "TAKASAKI8"
prefecture = "Osaka-fu"
city = "Osaka-shi-Kita-ku"
municipality_code = "27127"

[[persona]]
id = "expiring"
description = "certificates expire in 60 days"
name = "鈴木　一郎"
birth_date = "1962-10-23"
address = "神奈川県横浜市中区日本大通１"
card_expiry = "2031-10-23"
security_code = "5566"
pin = "2468"
sign_password = "SUZUKI62"
cert = "expiring"
prefecture = "Kanagawa-ken"
city = "Yokohama-shi-Naka-ku"
municipality_code = "14104"

[[persona]]
id = "expired"
description = "certificates expired 30 days ago (eligibility grace)"
name = "佐藤　健"
birth_date = "1958-06-30"
address = "北海道札幌市中央区北一条西２丁目"
card_expiry = "2030-06-30"
security_code = "3141"
pin = "1357"
sign_password = "SATO1958"
cert = "expired"
prefecture = "Hokkaido"
city = "Sapporo-shi-Chuo-ku"
municipality_code = "01101"

[[persona]]
id = "lapsed"
description = "certificates expired 200 days ago (beyond the 3-month grace)"
name = "加藤　恵美"
birth_date = "1970-12-01"
address = "愛知県名古屋市中区三の丸３－１－１"
sex = 2
card_expiry = "2030-12-01"
security_code = "7272"
pin = "9753"
sign_password = "KATO1970"
cert = "lapsed"

[[persona]]
id = "lasttry"
description = "auth PIN has one try left; text PIN one try left"
name = "田中　実"
birth_date = "1948-03-15"
address = "福岡県福岡市博多区東公園７－７"
card_expiry = "2032-03-15"
security_code = "8008"
pin = "1111"
sign_password = "TANAKA48"
auth_tries = 1
text_tries = 1

[[persona]]
id = "locked"
description = "auth PIN and text PIN locked (0 tries): face or 目視 only"
name = "小林　清"
birth_date = "1939-09-09"
address = "京都府京都市上京区下立売通新町西入薮ノ内町"
card_expiry = "2029-09-09"
security_code = "1939"
pin = "0000"
sign_password = "KOBAYASHI1"
auth_tries = 0
text_tries = 0

[[persona]]
id = "faceonly"
description = "PIN-less 顔認証マイナンバーカード: no PIN, no signature certificate"
name = "中村　ハル"
birth_date = "1931-05-05"
address = "広島県広島市中区国泰寺町１－６－３４"
sex = 2
card_expiry = "2033-05-05"
security_code = "5050"

[[persona]]
id = "android"
description = "Android スマホ用電子証明書 (JPKI only, auth certificate behind the PIN)"
name = "伊藤　さくら"
birth_date = "2001-04-02"
address = "宮城県仙台市青葉区国分町３－７－１"
sex = 2
card_expiry = "2035-04-02"
security_code = "2001"
pin = "4321"
sign_password = "ITO2001"
kind = "android"

[[persona]]
id = "iphone"
description = "iPhone JPKI token (JPKI only, auth certificate behind the PIN)"
name = "渡辺　翔"
birth_date = "2019-05-01"
address = "沖縄県那覇市泉崎１－２－２"
card_expiry = "2029-05-01"
security_code = "0501"
pin = "5678"
sign_password = "WATANABE19"
kind = "iphone"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_eras() {
        let d = Date::new(1980, 2, 17);
        assert_eq!(Date::from_days(d.days()), d);
        assert_eq!(d.wareki_yymmdd(), "550217");
        assert_eq!(Date::new(1989, 1, 8).wareki_yymmdd(), "010108");
        assert_eq!(Date::new(1989, 1, 7).era(), (3, 64));
        assert_eq!(Date::new(2019, 5, 1).era(), (5, 1));
        assert_eq!(Date::new(1970, 1, 1).days(), 0);
        assert_eq!(Date::new(2024, 2, 29).with_year(2025), Date::new(2025, 2, 28));
    }

    #[test]
    fn builtins_parse_and_fixture_codes_match_the_readme() {
        let all = builtin();
        assert!(all.len() >= 10);
        let f = find("fixture").unwrap();
        assert_eq!(f.code_b(), "55021720352285");
        assert_eq!(f.my_number(), "537686677188");
        assert_eq!(my_number_check_digit(b"53768667718"), b'8');
        for p in &all {
            let n = p.my_number();
            let first: [u8; 11] = n.as_bytes()[..11].try_into().unwrap();
            assert_eq!(n.as_bytes()[11], my_number_check_digit(&first), "{}", p.id);
        }
    }
}
