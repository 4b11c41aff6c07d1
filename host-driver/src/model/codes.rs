//! The code tables of the receipt-computer interface (業務コード, OQSCD…): each a closed enum
//! with the code written in the files and the label staff see. Unknown codes from the
//! eligibility service are refused when parsed ([`CodeError`]), never written as something else.
//!
//! Values as public integrations that read and write the files state them: `myclinic-ts`
//! (`packages/onshi-result/codes.ts`), a face-folder bridge whose element list is annotated
//! "別紙3-1 XMLレイアウト仕様 Ver8.07", and `OQSDrug2` (`QualificationFaceExporter.cs`). Where they
//! disagree, the choice is noted at the table (異常終了: 9, not 3; 未就学区分: only 1 is attested
//! by both).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A code that is not in its table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table}: unknown code {code:?}")]
pub struct CodeError {
    pub table: &'static str,
    pub code: String,
}

macro_rules! code_table {
    ($(#[$doc:meta])* $name:ident, $table:literal { $($(#[$vdoc:meta])* $variant:ident = $code:literal, $label:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in table order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// The table's name in error messages.
            pub const TABLE: &'static str = $table;

            /// The code written in the files.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// What the code means (Japanese, as the specification names it).
            pub fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }

            pub fn from_code(code: &str) -> Result<Self, CodeError> {
                match code.trim() {
                    $($code => Ok($name::$variant),)+
                    other => Err(CodeError { table: $table, code: other.to_owned() }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::from_code(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

code_table!(
    /// 被保険者証区分 (`InsuredCardClassification`). A 資格確認書 carries the data of the
    /// qualification it confirms and is classified like the card it replaces (01 for most).
    InsuredCardClassification, "InsuredCardClassification" {
        General = "01", "被保険者証（一般）";
        Retired = "02", "被保険者証（退職）";
        ShortTermGeneral = "03", "短期被保険者証（一般）";
        ShortTermRetired = "04", "短期被保険者証（退職）";
        QualificationCertificate = "05", "被保険者資格証明書";
        SpecialRetired = "06", "特例退職被保険者証";
        SelfDefenseForces = "07", "自衛官診療証";
        /// 医療扶助 (public assistance), not health insurance.
        MedicalAssistance = "A1", "医療扶助";
    }
);

code_table!(
    /// 性別 (`Sex1`, `Sex2`).
    Sex, "Sex" {
        Male = "1", "男";
        Female = "2", "女";
        Unspecified = "3", "未設定";
    }
);

code_table!(
    /// 本人・家族の別 (`PersonalFamilyClassification`).
    PersonalFamilyClassification, "PersonalFamilyClassification" {
        Insured = "1", "本人";
        Family = "2", "家族";
    }
);

code_table!(
    /// 未就学区分 (`PreschoolClassification`).
    PreschoolClassification, "PreschoolClassification" {
        Preschool = "1", "未就学";
    }
);

code_table!(
    /// 資格喪失事由 (`ReasonOfLoss`).
    ReasonOfLoss, "ReasonOfLoss" {
        Death = "01", "死亡";
        PublicAssistance = "02", "生活保護受給開始";
        OtherInsurance = "03", "医療保険等の資格取得";
        Other = "99", "その他";
    }
);

code_table!(
    /// 限度額適用認定証区分 (`LimitApplicationCertificateClassification`).
    LimitCertificateClassification, "LimitApplicationCertificateClassification" {
        Limit = "01", "限度額適用認定証";
        LimitAndMealReduction = "02", "限度額適用・標準負担額減額認定証";
        MealReduction = "03", "標準負担額減額認定証";
    }
);

code_table!(
    /// 限度額適用認定証適用区分 (`LimitApplicationCertificateClassificationFlag`, OQSCD012).
    LimitCategory, "LimitApplicationCertificateClassificationFlag" {
        A01 = "A01", "ア";
        A02 = "A02", "イ";
        A03 = "A03", "ウ";
        A04 = "A04", "エ";
        A05 = "A05", "オ";
        A06 = "A06", "オ（境）";
        B01 = "B01", "現役並みⅢ";
        B02 = "B02", "現役並みⅡ";
        B03 = "B03", "現役並みⅠ";
        B04 = "B04", "一般";
        B05 = "B05", "低所得Ⅱ";
        B06 = "B06", "低所得Ⅰ";
        B07 = "B07", "低所得Ⅰ（老福）";
        B08 = "B08", "低所得Ⅰ（境）";
        B09 = "B09", "一般Ⅱ";
        B10 = "B10", "一般Ⅰ";
    }
);

code_table!(
    /// 資格有効性 (`QualificationValidity`, OQSCD006).
    QualificationValidity, "QualificationValidity" {
        Valid = "1", "有効";
        Invalid = "2", "無効";
        InvalidNewerExists = "3", "無効（新しい資格あり）";
        NotFound = "4", "該当資格なし";
        MultipleMatches = "5", "複数該当";
    }
);

code_table!(
    /// 照会区分 (`ReferenceClassification`): what a request or result is keyed by.
    ReferenceClassification, "ReferenceClassification" {
        /// マイナンバーカード (a reception at the reader).
        Card = "1", "マイナンバーカード";
        /// 被保険者証情報 (保険者番号, 記号, 番号, 枝番, 生年月日).
        InsuranceNumber = "2", "被保険者証情報";
    }
);

code_table!(
    /// 処理結果区分 (`SegmentOfResult`, OQSCD003).
    SegmentOfResult, "SegmentOfResult" {
        Normal = "1", "正常終了";
        Processing = "2", "処理中";
        Abnormal = "9", "異常終了";
    }
);

code_table!(
    /// 処理結果状況 (`ProcessingResultStatus`).
    ProcessingResultStatus, "ProcessingResultStatus" {
        Normal = "1", "正常";
        Error = "2", "エラー";
    }
);

code_table!(
    /// 同意フラグ (`…ConsFlg`).
    ConsentFlag, "ConsFlg" {
        NotGiven = "0", "未同意";
        Given = "1", "同意";
    }
);

impl QualificationValidity {
    /// The number, as the JSON API and logs show it.
    pub fn number(self) -> u8 {
        self as u8 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_itself() {
        for v in LimitCategory::ALL {
            assert_eq!(LimitCategory::from_code(v.code()), Ok(*v));
        }
        for v in InsuredCardClassification::ALL {
            assert_eq!(InsuredCardClassification::from_code(v.code()), Ok(*v));
        }
        assert_eq!(QualificationValidity::NotFound.number(), 4);
        assert_eq!(Sex::from_code("4"), Err(CodeError { table: "Sex", code: "4".into() }));
    }

    #[test]
    fn codes_travel_as_their_code_in_json() {
        assert_eq!(serde_json::to_string(&LimitCategory::B10).unwrap(), "\"B10\"");
        assert_eq!(serde_json::from_str::<Sex>("\"2\"").unwrap(), Sex::Female);
        assert!(serde_json::from_str::<Sex>("\"x\"").is_err());
    }
}
