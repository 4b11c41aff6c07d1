//! The insured people of the reference service: one per virtual-card persona and the fixture
//! test card, and people **without a card** (資格確認書 holders, found only by `POST /insured`),
//! together covering every 資格有効性 code, 記号 and 枝番 distinctions, names outside
//! JIS X 0208, and the code tables' less common values. Names and kana are stored full-width
//! (the receipt writer makes the kana half-width). "today" is the seeding day; dates given
//! relative to it keep their meaning whenever the seed runs.
//!
//! Card holders (answers of `POST /eligibility` on the service's date):
//!
//! | persona | person | qualification(s) | 資格有効性 |
//! |---|---|---|---|
//! | `fixture` (the real test card's certificate) | 黒桐　幹也, 男, 清瀬市 | 協会けんぽ 東京支部 01130012, 5020013/47/00 本人 | 1 |
//! | `yamada` | 山田　太郎, 男 | 関西中央商事健康保険組合 06273399, 21003/1024/00 本人 | 1 |
//! | `takasaki` | 髙﨑　𠮷乃 (outside JIS X 0208), 女 | 大阪市 国民健康保険 270009 (6 digits), 大阪北/812345/01; 限度額 ウ (A03) | 1 |
//! | `expiring` | 鈴木　一郎, 男 | 東京都職員共済組合 32130019, 13-7/55621/00; 限度額 エ (A04) | 1 |
//! | `expired` (grace: no consents) | 佐藤　健, 男 | 札幌市 国民健康保険 010017, 札中/3300521/00; 限度額 イ (A02) | 1 |
//! | `lapsed` (refused before lookup) | 加藤　恵美, 女 | 協会けんぽ 愛知支部 01230017, 7070123/88/00 | (611) |
//! | `lasttry` | 田中　実, 男, 後期高齢 | 福岡県後期高齢者医療広域連合 39401016, 00731152, 1割; 限度額・標準負担額減額 低所得Ⅱ (B05) | 1 |
//! | `locked` | 小林　清, 男, 後期高齢 | 京都府 39261011 00918273 lost 20 days ago (転出); 大阪府 39271010 00918274 from in 14 days | 3 (the lost one) |
//! | `faceonly` (card **not registered**: 初回登録) | 中村　ハル, 女, 後期高齢 | 広島県後期高齢者医療広域連合 39341019, 01020304 | 1 after registration |
//! | `android` | 伊藤　さくら, 女 | 東北電機健康保険組合 06041234 宮青/501/01 家族, and 文部科学省共済組合 31040017 52-3/77810/00 本人 | 5 |
//! | `iphone` | 渡辺　翔, 男 | none (registered card) | 4 |
//! | `lost` (no card persona: [`lost_persona`], its certificate from [`persona_cert`]) | 髙橋　﨑子, 女 | 霞が関情報健康保険組合 06139994, 0307/30117/00, lost 2025-04-01 | 2 |
//!
//! Every seeded qualification has 被保険者証区分 01 (一般): the interface's table codes 02–07
//! for 退職, 短期, 資格証明書, 特例退職 and 自衛官 — not the kind of insurer — and has no code for
//! a 資格確認書 (A1 is 医療扶助).
//!
//! Personas not in this table (from a TOML file) get one 協会けんぽ 東京支部 qualification in
//! force (0000001/1/00).
//!
//! People without a card (資格確認書 holders, issued from 2024-12-02 for 5 years;
//! [`insured_queries`] asks about them):
//!
//! | who | qualification(s) | what it shows |
//! |---|---|---|
//! | 𠮷田　健司 (00, 本人, 1982-09-14), 𠮷田　陽菜 and 𠮷田　結菜 (01, 02, 家族, twins born 2014-06-10) | 協会けんぽ 大阪支部 01270018, 2710345/88 | 枝番 tells the twins apart; without it: 5 |
//! | 髙﨑　誠 and 佐々木　誠, both born 1990-02-14 | 協会けんぽ 東京支部 01130012, 番号 15 under 記号 1234567 and 7654321 | 記号 tells them apart; without it: 5 |
//! | 渡邉　美咲 (旧姓 佐藤) | 協会けんぽ 神奈川支部 01140013 3210987/204/00 lost 2025-07-01 (退職); みなとみらい電機健康保険組合 06140050 MM-12/3301/00 from 2025-08-01 | old numbers: 1 before the loss, 3 after; new numbers: 4 before 2025-08-01, 1 after |
//! | 斉藤　トメ (後期高齢) | 東京都後期高齢者医療広域連合 39131015, 01234567, lost 2025-01-10 (死亡) | 2 |
//! | 渡邉　蒼 (4 years old this year) | 横浜市 国民健康保険 140004, 横浜中/5507713/02, 未就学者, 2割 | preschool; a 6-digit number padded to 8 |
//! | 中島　和子 (72 this year) | 名古屋市 国民健康保険 230003, 名中/7712045/00; 高齢受給者 2割 from the month after her 70th birthday to the day before her 75th | 高齢受給者 |

use shikaku_card::der::Certificate;
use shikaku_host::eligibility::InsuredQuery;
use shikaku_host::model::{
    ElderlyRecipient, InsuredCardClassification as Card, LimitCategory, LimitCertificate,
    LimitCertificateClassification, PersonalFamilyClassification as Family, PreschoolClassification,
    QualificationValidity, ReasonOfLoss, Sex,
};

use super::service::card_key;
use super::store::{Person, QualificationRecord, Store};
use crate::vcard::persona::{Date, Persona, Source};
use crate::vcard::pki::{self, Hierarchy};
use crate::vcard::{fixture, keys};

/// 資格確認書 were first issued on this day (the end of new 被保険者証).
const CONFIRMATION_DOCUMENTS_FROM: Date = Date::new(2024, 12, 2);

/// A qualification in force from `from` (`YYYYMMDD`), 本人 (健保) or neither (国保, 後期高齢),
/// no limits.
#[allow(clippy::too_many_arguments)]
fn qual(
    insurer_number: &str,
    insurer_name: &str,
    symbol: Option<&str>,
    number: &str,
    branch: Option<&str>,
    from: &str,
    copay: u8,
) -> QualificationRecord {
    // 国保 (6-digit 保険者番号) and 後期高齢 (法別番号 39) know no 本人/家族.
    let family = (insurer_number.len() == 8 && !insurer_number.starts_with("39")).then_some(Family::Insured);
    QualificationRecord {
        card_classification: Card::General,
        insurer_number: insurer_number.into(),
        insurer_name: insurer_name.into(),
        symbol: symbol.map(Into::into),
        number: number.into(),
        branch: branch.map(Into::into),
        family,
        insured_name: None,
        qualification_date: from.into(),
        disqualification_date: None,
        reason_of_loss: None,
        certificate_issuance_date: Some(from.into()),
        card_valid_date: Some(from.into()),
        card_expiration_date: None,
        copay_percent: Some(copay),
        preschool: None,
        elderly: None,
        limit: None,
    }
}

/// Builder steps on a seeded qualification.
trait Build: Sized {
    fn lost(self, on: &str, reason: ReasonOfLoss) -> Self;
    fn family_of(self, head: &str) -> Self;
    fn limit(
        self,
        classification: LimitCertificateClassification,
        category: LimitCategory,
        today: Date,
    ) -> Self;
    /// A 資格確認書: issued from the later of acquisition and 2024-12-02, for 5 years. Its
    /// 被保険者証区分 stays 01 (一般): the interface's table has no code for it (A1 is 医療扶助).
    fn confirmation_document(self) -> Self;
}

impl Build for QualificationRecord {
    fn lost(mut self, on: &str, reason: ReasonOfLoss) -> Self {
        self.disqualification_date = Some(on.into());
        self.reason_of_loss = Some(reason);
        self
    }

    fn family_of(mut self, head: &str) -> Self {
        self.family = Some(Family::Family);
        self.insured_name = Some(head.into());
        self
    }

    /// Valid for the year from 1 August (as these certificates are renewed) that holds `today`.
    fn limit(
        mut self,
        classification: LimitCertificateClassification,
        category: LimitCategory,
        today: Date,
    ) -> Self {
        let year = if today.month >= 8 { today.year } else { today.year - 1 };
        let start = Date::new(year, 8, 1).yyyymmdd();
        self.limit = Some(LimitCertificate {
            classification,
            category,
            issuance_date: Some(start.clone()),
            valid_start_date: start,
            valid_end_date: Some(Date::new(year + 1, 7, 31).yyyymmdd()),
            long_term_date: None,
        });
        self
    }

    fn confirmation_document(mut self) -> Self {
        let from = Date::parse(&self.qualification_date).unwrap_or(CONFIRMATION_DOCUMENTS_FROM);
        let issued = from.max(CONFIRMATION_DOCUMENTS_FROM);
        self.certificate_issuance_date = Some(issued.yyyymmdd());
        self.card_valid_date = Some(issued.yyyymmdd());
        self.card_expiration_date = Some(issued.with_year(issued.year + 5).add_days(-1).yyyymmdd());
        self
    }
}

/// The 照会番号 this clinic registered for a few of its patients (the others have none).
fn reference_number_of(label: &str) -> Option<&'static str> {
    match label {
        "yamada" => Some("0000012345"),
        "cardless/yoshida-kenji" => Some("0000020001"),
        _ => None,
    }
}

/// A seeded person, without a card.
#[allow(clippy::too_many_arguments)]
fn person(label: &str, name: &str, kana: &str, sex: Sex, birth: Date, address: &str, post: &str) -> Person {
    Person {
        label: label.into(),
        card_key: None,
        name: name.into(),
        name_of_other: None,
        name_kana: Some(kana.into()),
        name_of_other_kana: None,
        sex1: sex,
        sex2: None,
        birth_date: birth.yyyymmdd(),
        address: Some(address.into()),
        post_number: Some(post.into()),
        reference_number: reference_number_of(label).map(Into::into),
    }
}

/// What the seed knows of a card persona beyond the persona itself.
pub struct CardHolder {
    /// 氏名カナ (full-width).
    pub kana: &'static str,
    pub post_number: &'static str,
    /// Registered for insurance use (`faceonly` is not: 初回登録).
    pub registered: bool,
    pub qualifications: Vec<QualificationRecord>,
}

/// The seed's record of a card persona (see the table); `None` for personas it does not know.
pub fn card_holder(id: &str, today: Date) -> Option<CardHolder> {
    use LimitCategory as L;
    use LimitCertificateClassification::{Limit, LimitAndMealReduction};
    let holder = |kana, post_number, qualifications| CardHolder {
        kana,
        post_number,
        registered: true,
        qualifications,
    };
    let d = |n: i64| today.add_days(n).yyyymmdd();
    Some(match id {
        "fixture" => holder(
            "クロギリ　ミキヤ",
            "204-0022",
            vec![qual(
                "01130012",
                "全国健康保険協会 東京支部",
                Some("5020013"),
                "47",
                Some("00"),
                "20080401",
                30,
            )],
        ),
        "yamada" => holder(
            "ヤマダ　タロウ",
            "100-0013",
            vec![qual(
                "06273399",
                "関西中央商事健康保険組合",
                Some("21003"),
                "1024",
                Some("00"),
                "19980401",
                30,
            )],
        ),
        "takasaki" => holder(
            "タカサキ　ヨシノ",
            "530-0005",
            vec![qual("270009", "大阪市 国民健康保険", Some("大阪北"), "812345", Some("01"), "20190601", 30)
                .limit(Limit, L::A03, today)],
        ),
        "expiring" => holder(
            "スズキ　イチロウ",
            "231-0021",
            vec![qual("32130019", "東京都職員共済組合", Some("13-7"), "55621", Some("00"), "19850401", 30)
                .limit(Limit, L::A04, today)],
        ),
        "expired" => holder(
            "サトウ　ケン",
            "060-0001",
            vec![qual("010017", "札幌市 国民健康保険", Some("札中"), "3300521", Some("00"), "20180701", 30)
                .limit(Limit, L::A02, today)],
        ),
        "lapsed" => holder(
            "カトウ　エミ",
            "460-0001",
            vec![qual(
                "01230017",
                "全国健康保険協会 愛知支部",
                Some("7070123"),
                "88",
                Some("00"),
                "19930401",
                30,
            )],
        ),
        "lasttry" => holder(
            "タナカ　ミノル",
            "812-0045",
            vec![qual("39401016", "福岡県後期高齢者医療広域連合", None, "00731152", None, "20230315", 10)
                .limit(LimitAndMealReduction, L::B05, today)],
        ),
        "locked" => holder(
            "コバヤシ　キヨシ",
            "602-8041",
            vec![
                qual("39261011", "京都府後期高齢者医療広域連合", None, "00918273", None, "20140909", 10)
                    .lost(&d(-20), ReasonOfLoss::Other),
                qual("39271010", "大阪府後期高齢者医療広域連合", None, "00918274", None, &d(14), 10),
            ],
        ),
        "faceonly" => CardHolder {
            registered: false,
            ..holder(
                "ナカムラ　ハル",
                "730-0042",
                vec![qual(
                    "39341019",
                    "広島県後期高齢者医療広域連合",
                    None,
                    "01020304",
                    None,
                    "20080401",
                    10,
                )],
            )
        },
        "android" => holder(
            "イトウ　サクラ",
            "980-0803",
            vec![
                qual("06041234", "東北電機健康保険組合", Some("宮青"), "501", Some("01"), "20010402", 30)
                    .family_of("伊藤　誠"),
                qual("31040017", "文部科学省共済組合", Some("52-3"), "77810", Some("00"), "20240401", 30),
            ],
        ),
        "iphone" => holder("ワタナベ　ショウ", "900-0021", vec![]),
        "lost" => holder(
            "タカハシ　サキコ",
            "100-0013",
            vec![qual(
                "06139994",
                "霞が関情報健康保険組合",
                Some("0307"),
                "30117",
                Some("00"),
                "19980401",
                30,
            )
            .lost("20250401", ReasonOfLoss::Other)],
        ),
        _ => return None,
    })
}

/// The people without a card (see the table), with their qualifications.
pub fn cardless(today: Date) -> Vec<(Person, Vec<QualificationRecord>)> {
    use Sex::{Female, Male};
    let head = "𠮷田　健司";
    let yoshida = |branch: &str, from: &str| {
        qual("01270018", "全国健康保険協会 大阪支部", Some("2710345"), "88", Some(branch), from, 30)
            .confirmation_document()
    };
    let sakai = ("大阪府堺市堺区南瓦町３－１", "590-0078");
    let twins = Date::new(2014, 6, 10);
    let same_number = |symbol: &str, from: &str| {
        qual("01130012", "全国健康保険協会 東京支部", Some(symbol), "15", Some("00"), from, 30)
            .confirmation_document()
    };
    let aoi_birth = Date::new(today.year - 4, 6, 1);
    let kazuko_birth = Date::new(today.year - 72, 7, 15);
    let mut aoi = qual(
        "140004",
        "横浜市 国民健康保険",
        Some("横浜中"),
        "5507713",
        Some("02"),
        &aoi_birth.yyyymmdd(),
        20,
    )
    .confirmation_document();
    aoi.insured_name = Some("渡邉　大輔".into());
    aoi.preschool = Some(PreschoolClassification::Preschool);
    let mut kazuko =
        qual("230003", "名古屋市 国民健康保険", Some("名中"), "7712045", Some("00"), "20180401", 20)
            .confirmation_document();
    let elderly_from = Date::new(kazuko_birth.year + 70, kazuko_birth.month + 1, 1).yyyymmdd();
    kazuko.elderly = Some(ElderlyRecipient {
        issuance_date: Some(elderly_from.clone()),
        valid_start_date: elderly_from,
        valid_end_date: Some(kazuko_birth.with_year(kazuko_birth.year + 75).add_days(-1).yyyymmdd()),
        copay_percent: 20,
    });
    let mut misaki = person(
        "cardless/watanabe-misaki",
        "渡邉　美咲",
        "ワタナベ　ミサキ",
        Female,
        Date::new(1986, 11, 3),
        "神奈川県川崎市川崎区宮本町１",
        "210-0004",
    );
    misaki.name_of_other = Some("佐藤　美咲".into());
    misaki.name_of_other_kana = Some("サトウ　ミサキ".into());
    vec![
        (
            person(
                "cardless/yoshida-kenji",
                head,
                "ヨシダ　ケンジ",
                Male,
                Date::new(1982, 9, 14),
                sakai.0,
                sakai.1,
            ),
            vec![yoshida("00", "20050401")],
        ),
        (
            person("cardless/yoshida-hina", "𠮷田　陽菜", "ヨシダ　ヒナ", Female, twins, sakai.0, sakai.1),
            vec![yoshida("01", "20140610").family_of(head)],
        ),
        (
            person("cardless/yoshida-yuina", "𠮷田　結菜", "ヨシダ　ユイナ", Female, twins, sakai.0, sakai.1),
            vec![yoshida("02", "20140610").family_of(head)],
        ),
        (
            person(
                "cardless/takasaki-makoto",
                "髙﨑　誠",
                "タカサキ　マコト",
                Male,
                Date::new(1990, 2, 14),
                "東京都品川区北品川１－２－３",
                "140-0001",
            ),
            vec![same_number("1234567", "20120401")],
        ),
        (
            person(
                "cardless/sasaki-makoto",
                "佐々木　誠",
                "ササキ　マコト",
                Male,
                Date::new(1990, 2, 14),
                "東京都練馬区豊玉北６－１２－１",
                "176-0012",
            ),
            vec![same_number("7654321", "20150401")],
        ),
        (
            misaki,
            vec![
                qual(
                    "01140013",
                    "全国健康保険協会 神奈川支部",
                    Some("3210987"),
                    "204",
                    Some("00"),
                    "20090401",
                    30,
                )
                .confirmation_document()
                .lost("20250701", ReasonOfLoss::Other),
                qual(
                    "06140050",
                    "みなとみらい電機健康保険組合",
                    Some("MM-12"),
                    "3301",
                    Some("00"),
                    "20250801",
                    30,
                )
                .confirmation_document(),
            ],
        ),
        (
            person(
                "cardless/saito-tome",
                "斉藤　トメ",
                "サイトウ　トメ",
                Female,
                Date::new(1938, 2, 11),
                "東京都台東区浅草２－３－１",
                "111-0032",
            ),
            vec![qual("39131015", "東京都後期高齢者医療広域連合", None, "01234567", None, "20130211", 10)
                .confirmation_document()
                .lost("20250110", ReasonOfLoss::Death)],
        ),
        (
            person(
                "cardless/watanabe-aoi",
                "渡邉　蒼",
                "ワタナベ　アオイ",
                Male,
                aoi_birth,
                "神奈川県横浜市中区山下町２７９",
                "231-0023",
            ),
            vec![aoi],
        ),
        (
            person(
                "cardless/nakajima-kazuko",
                "中島　和子",
                "ナカジマ　カズコ",
                Female,
                kazuko_birth,
                "愛知県名古屋市東区東桜１－１－１",
                "461-0005",
            ),
            vec![kazuko],
        ),
    ]
}

/// One scripted `POST /insured` and what the seed makes it answer.
#[derive(Debug, Clone)]
pub struct InsuredCase {
    pub label: &'static str,
    pub query: InsuredQuery,
    pub expected: QualificationValidity,
    /// 氏名 in the answer (1, 2, 3); `None` for 4 and 5.
    pub name: Option<&'static str>,
}

/// The `POST /insured` lookups the seed answers, asked for `today`: every code 1–5, 記号 and
/// 枝番 telling people apart, a padded 6-digit 国保 number, a birth date that does not fit.
/// One source for the tests and for the receipt-computer requests of the demo.
pub fn insured_queries(today: Date) -> Vec<InsuredCase> {
    use QualificationValidity::{Invalid, InvalidNewerExists, MultipleMatches, NotFound, Valid};
    let people = cardless(today);
    let lasttry = crate::vcard::persona::find("lasttry")
        .and_then(|p| card_holder("lasttry", today).map(|h| (p.birth_date.yyyymmdd(), h.qualifications)));
    let date = today.yyyymmdd();
    // The query for qualification `i` of the person labelled `label`.
    let ask = |label: &str, i: usize| -> InsuredQuery {
        let found = people.iter().find(|(p, _)| p.label == label).and_then(|(p, q)| Some((p, q.get(i)?)));
        let (birth_date, q) = match (found, &lasttry) {
            (Some((p, q)), _) => (p.birth_date.clone(), q),
            (None, Some((birth, qs))) if label == "lasttry" => (birth.clone(), &qs[0]),
            _ => unreachable!("seed label {label} without qualification {i}"),
        };
        InsuredQuery {
            insurer_number: q.insurer_number.clone(),
            symbol: q.symbol.clone(),
            number: q.number.clone(),
            branch: q.branch.clone(),
            birth_date,
            date: date.clone(),
        }
    };
    let case = |label, query, expected, name| InsuredCase { label, query, expected, name };
    let kenji = "cardless/yoshida-kenji";
    let hina = "cardless/yoshida-hina";
    vec![
        case("the head of a family by 枝番 00", ask(kenji, 0), Valid, Some("𠮷田　健司")),
        case(
            "the head without 枝番: the birth date alone tells",
            InsuredQuery { branch: None, ..ask(kenji, 0) },
            Valid,
            Some("𠮷田　健司"),
        ),
        case("a twin by 枝番 01", ask(hina, 0), Valid, Some("𠮷田　陽菜")),
        case("the other twin by 枝番 02", ask("cardless/yoshida-yuina", 0), Valid, Some("𠮷田　結菜")),
        case(
            "twins without 枝番: two people match",
            InsuredQuery { branch: None, ..ask(hina, 0) },
            MultipleMatches,
            None,
        ),
        case(
            "枝番 00 with a twin's birth date: nobody",
            InsuredQuery { branch: Some("00".into()), ..ask(hina, 0) },
            NotFound,
            None,
        ),
        case(
            "記号 1234567 of two with one 番号 and birth date",
            ask("cardless/takasaki-makoto", 0),
            Valid,
            Some("髙﨑　誠"),
        ),
        case(
            "記号 7654321 of two with one 番号 and birth date",
            ask("cardless/sasaki-makoto", 0),
            Valid,
            Some("佐々木　誠"),
        ),
        case(
            "one 番号 and birth date without 記号: two people match",
            InsuredQuery { symbol: None, ..ask("cardless/sasaki-makoto", 0) },
            MultipleMatches,
            None,
        ),
        case(
            "a 記号 nobody has",
            InsuredQuery { symbol: Some("1234568".into()), ..ask("cardless/sasaki-makoto", 0) },
            NotFound,
            None,
        ),
        case(
            "the old numbers of someone insured again elsewhere",
            ask("cardless/watanabe-misaki", 0),
            InvalidNewerExists,
            Some("渡邉　美咲"),
        ),
        case(
            "the new numbers of someone insured again elsewhere",
            ask("cardless/watanabe-misaki", 1),
            Valid,
            Some("渡邉　美咲"),
        ),
        case("lost with nothing newer (死亡)", ask("cardless/saito-tome", 0), Invalid, Some("斉藤　トメ")),
        case(
            "a preschool child, the 6-digit 国保 number padded as in the file",
            InsuredQuery { insurer_number: "  140004".into(), ..ask("cardless/watanabe-aoi", 0) },
            Valid,
            Some("渡邉　蒼"),
        ),
        case("a 高齢受給者 of 70–74", ask("cardless/nakajima-kazuko", 0), Valid, Some("中島　和子")),
        case("a 後期高齢 card holder by numbers (限度額 B05)", ask("lasttry", 0), Valid, Some("田中　実")),
        case(
            "a number nobody has",
            InsuredQuery { number: "999999".into(), ..ask("cardless/takasaki-makoto", 0) },
            NotFound,
            None,
        ),
        case(
            "the right numbers with another birth date",
            InsuredQuery { birth_date: "19900215".into(), ..ask("cardless/takasaki-makoto", 0) },
            NotFound,
            None,
        ),
    ]
}

/// The persona with 資格喪失 only (validity code 2). It has no built-in card persona; tests
/// issue its certificate with [`persona_cert`] on [`lost_persona`].
pub fn lost_persona() -> Persona {
    let mut p = crate::vcard::persona::find("yamada").expect("built-in persona");
    p.id = "lost".into();
    p.name = "髙橋　﨑子".into();
    p.sex = 2;
    p.description = "資格喪失: validity code 2".into();
    p
}

/// The persona's auth certificate as the virtual card issues it on `today` (the fixture
/// persona: the real test card's certificate).
pub fn persona_cert(p: &Persona, today: Date) -> Result<Vec<u8>, String> {
    if p.source == Source::Fixture {
        return fixture("jpki-auth-cert.der");
    }
    let key = keys::rsa_key(&format!("persona/{}/auth", p.id));
    Ok(pki::issue(p, Hierarchy::Auth, &key, &pki::ca(Hierarchy::Auth), today))
}

/// One seeded card.
#[derive(Debug, Clone)]
pub struct SeededCard {
    pub persona: String,
    pub card_key: String,
    /// SHA-256 of today's certificate.
    pub cert_sha256: String,
    pub qualifications: usize,
    pub registered: bool,
}

fn sex_of(p: &Persona) -> Sex {
    match p.sex_digit() {
        b'1' => Sex::Male,
        b'2' => Sex::Female,
        _ => Sex::Unspecified,
    }
}

/// Replaces the insured people with those of `personas` (plus the 資格喪失 persona) and the
/// people without a card; answers the cards seeded.
pub fn seed(
    store: &Store,
    personas: &[Persona],
    today: Date,
    now_ms: i64,
) -> Result<Vec<SeededCard>, String> {
    let db = |e: rusqlite::Error| e.to_string();
    store.clear_people().map_err(db)?;
    let mut out = vec![];
    let lost = lost_persona();
    for p in personas.iter().chain(std::iter::once(&lost)) {
        let der = persona_cert(p, today)?;
        let cert = Certificate::parse(&der).map_err(|e| format!("persona {}: certificate: {e:?}", p.id))?;
        let key = card_key(&cert);
        let sha = shikaku_host::eligibility::wire::cert_sha256(&der);
        let holder = card_holder(&p.id, today).unwrap_or_else(|| CardHolder {
            kana: "",
            post_number: "",
            registered: true,
            qualifications: vec![qual(
                "01130012",
                "全国健康保険協会 東京支部",
                Some("0000001"),
                "1",
                Some("00"),
                "20200401",
                30,
            )],
        });
        store.note_cert(&sha, &key, now_ms).map_err(db)?;
        store.add_card(&key, &p.id, holder.registered, now_ms).map_err(db)?;
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let id = store
            .add_person(&Person {
                label: p.id.clone(),
                card_key: Some(key.clone()),
                name: p.name.clone(),
                name_of_other: None,
                name_kana: some(holder.kana),
                name_of_other_kana: None,
                sex1: sex_of(p),
                sex2: None,
                birth_date: p.birth_date.yyyymmdd(),
                address: some(&p.address),
                post_number: some(holder.post_number),
                reference_number: reference_number_of(&p.id).map(Into::into),
            })
            .map_err(db)?;
        for q in &holder.qualifications {
            store.add_qualification(id, q).map_err(db)?;
        }
        out.push(SeededCard {
            persona: p.id.clone(),
            card_key: key,
            cert_sha256: sha,
            qualifications: holder.qualifications.len(),
            registered: holder.registered,
        });
    }
    for (person, qualifications) in cardless(today) {
        let id = store.add_person(&person).map_err(db)?;
        for q in &qualifications {
            store.add_qualification(id, q).map_err(db)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_elderly_recipient_is_between_70_and_74_and_the_child_is_preschool_whenever_seeded() {
        for today in [Date::new(2026, 1, 1), Date::new(2026, 12, 31), Date::new(2031, 7, 20)] {
            let people = cardless(today);
            let find = |label: &str| people.iter().find(|(p, _)| p.label == label).expect(label);
            let age = |birth: &str| {
                let b = Date::parse(birth).expect("date");
                today.year - b.year - i32::from((today.month, today.day) < (b.month, b.day))
            };
            let (kazuko, q) = find("cardless/nakajima-kazuko");
            assert!((70..=74).contains(&age(&kazuko.birth_date)), "{today}");
            let elderly = q[0].elderly.as_ref().expect("高齢受給者");
            assert!(elderly.valid_start_date <= today.yyyymmdd());
            assert!(elderly.valid_end_date.as_deref() >= Some(today.yyyymmdd().as_str()));
            let (aoi, q) = find("cardless/watanabe-aoi");
            assert!(age(&aoi.birth_date) < 6, "{today}");
            assert_eq!(q[0].preschool, Some(PreschoolClassification::Preschool));
        }
    }

    #[test]
    fn seeded_names_use_characters_outside_jis_x_0208() {
        let names: String = cardless(Date::new(2026, 12, 7)).iter().map(|(p, _)| p.name.clone()).collect();
        for c in ['𠮷', '髙', '﨑', '邉'] {
            assert!(names.contains(c), "{c}");
        }
    }
}
