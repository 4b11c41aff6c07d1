//! Receipt-computer integration: the オンライン資格確認 外部インターフェイス files.
//!
//! Receipt computers (レセコン) and electronic charts already integrate with the eligibility
//! terminal through three folders, and shikaku speaks the same files so nothing changes for
//! them:
//!
//! | folder | who writes | file | what |
//! |---|---|---|---|
//! | `face` | shikaku | `OQSsiquc01res_face_<30 digits>_<YYYYMMDDHHMMSS>.xml` | one per card reception ([`FaceWriter`], 照会区分 1) |
//! | `req` | receipt computer | `OQSsiquc01req_<id>.xml` | 資格確認 by insurance-card data ([`ReqWatcher`], 照会区分 2) |
//! | `res` | shikaku | `OQSsiquc01res_<id>.xml` | the answer, same `<id>` as the request |
//! | `res` | shikaku | `OQSsiquc01req_<id>.xml` + `OQSsiquc01req_<id>.err` | an unreadable request, put back with the reason |
//!
//! Every file shikaku writes appears atomically ([`atomic`]).
//!
//! # Layout
//!
//! Elements in specification order (別紙3-1 XMLレイアウト仕様, as public integrations list it —
//! sources below), rendered from the typed model ([`crate::model::Eligibility`]) by
//! [`write`](render_reception):
//!
//! ```text
//! XmlMsg
//!   MessageHeader
//!     ProcessExecutionTime            YYYYMMDDHHMMSS (JST)
//!     QualificationConfirmationDate   YYYYMMDD (res: the request's, echoed)
//!     MedicalInstitutionCode          10 digits
//!     ArbitraryFileIdentifier         res: the request's, echoed byte for byte; face: the reception
//!     ReferenceClassification         1 card (face), 2 insurance number (res)
//!     SegmentOfResult                 1 正常終了, 9 異常終了
//!     ErrorCode, ErrorMessage         only when SegmentOfResult is not 1
//!     CharacterCodeIdentifier         0 UTF-8, 1 Shift_JIS (agrees with the declaration)
//!   MessageBody
//!     ProcessingResultStatus          1 正常, 2 エラー
//!     ProcessingResultCode, -Message  a readable request with a bad field (SHK2001 missing, …)
//!     QualificationValidity           1–5; 4 該当資格なし is a completed lookup, not an error
//!     ResultList                      only with a qualification (1, 2, 3)
//!       ResultOfQualificationConfirmation
//!         InsuredCardClassification, InsurerNumber (8, 国保 right-aligned with spaces),
//!         InsuredCardSymbol, InsuredIdentificationNumber, InsuredBranchNumber,
//!         PersonalFamilyClassification, InsuredName, Name, NameOfOther, NameKana (half-width),
//!         NameOfOtherKana, Sex1, Sex2, Birthdate, Address, PostNumber (NNN-NNNN),
//!         QualificationDate, DisqualificationDate, InsuredCertificateIssuanceDate,
//!         InsuredCardValidDate, InsuredCardExpirationDate, InsuredPartialContributionRatio
//!         ("030" = 3割), PreschoolClassification, ReasonOfLoss, InsurerName,
//!         ElderlyRecipientCertificateInfo {…Date, …ValidStartDate, …ValidEndDate, …ContributionRatio},
//!         LimitApplicationCertificateRelatedConsFlg, -ConsTime,
//!         LimitApplicationCertificateRelatedInfo {Classification, ClassificationFlag (A01–B10),
//!           Date, ValidStartDate, ValidEndDate, LongTermDate},
//!         SpecificHealthCheckupsInfo-, PharmacistsInfo-, DiagnosisInfo-, OperationInfo-
//!           {ConsFlg, ConsTime, AvailableTime}, ReferenceNumber
//!     QualificationConfirmSearchInfo  res only: the request's search keys, echoed as they came
//! ```
//!
//! **Characters.** Files are CP932 by default (what Windows receipt computers read and write),
//! UTF-8 or strict JIS X 0208 Shift_JIS by configuration ([`FileEncoding`]). A character the
//! file's set lacks is written as a numeric character reference inside the element (`&#x20BB7;`):
//! every name arrives exactly as the eligibility system spelled it, with no ● and no look-alike
//! (see [`crate::names`]); which fields needed one is reported ([`Referenced`]) to the JSON API.
//!
//! **Sources.** The specification itself (別紙3-1, 別紙5-1 コード仕様, 別紙6-1 処理結果コード) is
//! distributed to vendors only. Element names, order and codes were taken from public software
//! that reads or writes these files: `hangilc/myclinic-ts` (`packages/onshi-result/*.ts`, a face
//! file in `onshi-face.test.ts`), `YUKI-ENT/OQSDrug2` (`QualificationFaceExporter.cs`), the
//! SmartKarte C# DTOs (`Sotatek-ChinhVu/smart-test`, `Domain/Models/Online/QualificationConfirmation`),
//! a face-folder bridge annotated "別紙3-1 Ver8.07", and a SmartKarte file bridge that waits for
//! an answer carrying the request's `ArbitraryFileIdentifier` or for the request file back in
//! `res` beside its `.err`. Chosen here where the sources are silent or disagree:
//! * `SegmentOfResult` 9 for 異常終了 (one source says 3);
//! * the 30 digits of a face file name: the 医療機関コード and 20 digits of the reception's key
//!   (real files carry the code and 20 hex characters; consumers read only the time stamp);
//! * the `.err` file holds the `SHK1…` code and the reason as text, in the files' encoding;
//! * codes `SHK…` are shikaku's own; codes from the eligibility system are forwarded.

pub mod atomic;
mod folders;
pub mod kana;
pub mod req;
pub mod time;
mod write;

pub use atomic::{remove_stale_temps, write_atomic, WriteHook, STALE_AFTER, TEMP_PREFIX};
pub use folders::{
    FaceWriter, FnLookup, Folders, InsuredLookup, PollReport, ReqWatcher, Written, FACE_PREFIX, REQ_PREFIX,
    RES_PREFIX,
};
pub use req::{parse_request, FieldError, Lookup, QualificationRequest, ReqError, RequestHeader, SearchInfo};
pub use write::{
    face_digits, insurer_number_field, reception_id, render_answer, render_reception, serialize, Answer,
    FileEncoding, Header, HeaderError, Node, Referenced, Rendered, WriterConfig,
};
