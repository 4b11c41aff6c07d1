//! A complete eligibility answer for the host driver's tests: every field of the layout set,
//! so a writer that drops or misplaces one is caught.
#![allow(dead_code)]

use shikaku_host::model::{
    Consent, ConsentFlag, Consents, ElderlyRecipient, Eligibility, InsuredCardClassification, LimitCategory,
    LimitCertificate, LimitCertificateClassification, PersonalFamilyClassification, Qualification,
    QualificationValidity, Sex,
};

/// A family member's qualification under a 6-digit 国保 number, with 高齢受給者 and 限度額 data.
pub(crate) fn qualification(name: &str) -> Qualification {
    Qualification {
        card_classification: InsuredCardClassification::General,
        insurer_number: "138057".into(),
        symbol: Some("東京１２".into()),
        number: "3456".into(),
        branch: Some("01".into()),
        family: Some(PersonalFamilyClassification::Family),
        insured_name: Some("山田　一郎".into()),
        name: name.into(),
        name_of_other: Some("山田　花".into()),
        name_kana: Some("タカサキ　ヨシコ".into()),
        name_of_other_kana: Some("ヤマダ　ハナ".into()),
        sex1: Sex::Female,
        sex2: None,
        birth_date: "19540101".into(),
        address: Some("東京都千代田区霞が関１－２－２".into()),
        post_number: Some("100-8916".into()),
        qualification_date: Some("20190401".into()),
        disqualification_date: None,
        certificate_issuance_date: Some("20240801".into()),
        card_valid_date: Some("20240801".into()),
        card_expiration_date: Some("20250731".into()),
        copay_percent: Some(20),
        preschool: None,
        reason_of_loss: None,
        insurer_name: "千代田区国民健康保険".into(),
        elderly: Some(ElderlyRecipient {
            issuance_date: Some("20240801".into()),
            valid_start_date: "20240801".into(),
            valid_end_date: Some("20250731".into()),
            copay_percent: 20,
        }),
        limit_consent: None,
        limit: Some(LimitCertificate {
            classification: LimitCertificateClassification::Limit,
            category: LimitCategory::A03,
            issuance_date: Some("20240801".into()),
            valid_start_date: "20240801".into(),
            valid_end_date: Some("20250731".into()),
            long_term_date: None,
        }),
    }
}

pub(crate) fn consent(flag: ConsentFlag) -> Consent {
    Consent {
        flag,
        time: "20250401093005".into(),
        available_until: (flag == ConsentFlag::Given).then(|| "20250402093005".into()),
    }
}

pub(crate) fn eligibility(name: &str) -> Eligibility {
    Eligibility {
        validity: QualificationValidity::Valid,
        qualification: Some(Box::new(qualification(name))),
        consents: Consents {
            health_checkup: Some(consent(ConsentFlag::NotGiven)),
            medication: Some(consent(ConsentFlag::Given)),
            treatment: Some(consent(ConsentFlag::Given)),
            surgery: None,
        },
        reference_number: Some("0000012345".into()),
    }
}
