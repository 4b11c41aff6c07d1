//! Receipt-computer integration: the オンライン資格確認 外部インターフェイス files.
//!
//! Receipt computers (レセコン) and electronic charts already integrate with the eligibility
//! terminal through three folders, and shikaku speaks the same files so nothing changes for
//! them:
//!
//! | folder | who writes | file | what |
//! |---|---|---|---|
//! | `face` | shikaku | `OQSsiquc01res_face_<reception>_<YYYYMMDDHHmmss>.xml` | one per card reception ([`FaceWriter`]) |
//! | `req` | receipt computer | `OQSsiquc01req_<id>.xml` | 資格確認 by insurance-card data ([`ReqWatcher`]) |
//! | `res` | shikaku | `OQSsiquc01res_<id>.xml` | the answer, same `<id>` as the request |
//!
//! Every file shikaku writes appears atomically ([`atomic`]); a request that cannot be read is
//! answered with an error (so the receipt computer is not left waiting) and moved to
//! `rejected`, never deleted.
//!
//! # Layout
//!
//! ```xml
//! <?xml version="1.0" encoding="Shift_JIS" standalone="no"?>
//! <XmlMsg>
//!   <MessageHeader>
//!     <ProcessExecutionTime>20250401093012</ProcessExecutionTime>     処理実行日時 (JST)
//!     <QualificationConfirmationDate>20250401</QualificationConfirmationDate>  資格確認日
//!     <MedicalInstitutionCode>1311111111</MedicalInstitutionCode>     医療機関コード
//!     <ArbitraryFileIdentifier>R1-7-3</ArbitraryFileIdentifier>        任意のファイル識別子
//!     <ReferenceClassification>1</ReferenceClassification>            照会区分 1 card, 2 保険証
//!     <SegmentOfResult>1</SegmentOfResult>                            処理結果区分 1 / 2 / 9
//!     <ErrorCode>…</ErrorCode><ErrorMessage>…</ErrorMessage>          only when not 1
//!     <CharacterCodeIdentifier>1</CharacterCodeIdentifier>            0 UTF-8, 1 Shift_JIS
//!   </MessageHeader>
//!   <MessageBody>
//!     <QualificationConfirmSearchInfo>…</QualificationConfirmSearchInfo>  res only: the request echoed
//!     <ProcessingResultStatus>1</ProcessingResultStatus>              処理結果状況 1 正常, 2 エラー
//!     <QualificationValidity>1</QualificationValidity>                資格有効性 1–5
//!     <ResultList>
//!       <ResultOfQualificationConfirmation>
//!         InsurerNumber (8, a 6-digit 国保 number right-aligned with spaces), InsuredCardSymbol,
//!         InsuredIdentificationNumber, InsuredBranchNumber, Name, NameKana (half-width),
//!         Birthdate, InsuredPartialContributionRatio ("030" = 3割),
//!         LimitApplicationCertificateRelatedInfo/LimitApplicationCertificateClassificationFlag
//!         (A01 ア … B10 一般Ⅰ), SpecificHealthCheckupsInfoConsFlg/-ConsTime,
//!         PharmacistsInfoConsFlg/-ConsTime, DiagnosisInfoConsFlg/-ConsTime,
//!         OperationInfoConsFlg/-ConsTime (1 同意, 0 not)
//!       </ResultOfQualificationConfirmation>
//!     </ResultList>
//!   </MessageBody>
//! </XmlMsg>
//! ```
//!
//! **What is confirmed from public sources and what is not.** The official specification
//! (別紙3-1 XMLレイアウト仕様, 別紙5-1 業務コード仕様) is distributed to vendors only. Element
//! names, the code values (OQSCD003 SegmentOfResult 1/2/9, OQSCD005 CharacterCodeIdentifier
//! 0/1, OQSCD006 QualificationValidity 1–5, OQSCD012 限度額 A01–B10), the request layout and
//! the file prefixes `OQSsiquc01req_` / `OQSsiquc01res_` were confirmed in several independent
//! open-source receipt-computer integrations and clinic write-ups that parse or produce real
//! files, and the sample files they contain. Also from those: `face` files are named
//! `OQSsiquc01res_face_…_<YYYYMMDDHHmmss>.xml`, and 6-digit insurer numbers arrive padded to 8
//! with leading spaces. Not confirmed, and chosen here:
//! * the exact element order (public parsers read by name; samples differ in order);
//! * `SegmentOfResult` 9 for 異常終了 (one source says 3; the one that quotes OQSCD003 says 9);
//! * the `<reception>` part of face file names and the `ArbitraryFileIdentifier` of face files
//!   (`<reader>-<session>-<seq>`, the reception's exactly-once key);
//! * echoing `QualificationConfirmSearchInfo` in `res` answers;
//! * honouring a `CharacterCodeIdentifier` in a request's header for its answer (otherwise the
//!   configured character code applies);
//! * error codes `SHK…` — shikaku's own; codes from the eligibility system are forwarded as is.
//!
//! **shikaku extensions.** A field that could not be written exactly (a name with 髙 in a
//! strict JIS X 0208 file, see [`crate::names`]) is followed by `<{Field}Substituted>`
//! (1: replaced by the standard form, 2: a ● stands for a character with no mapping) and
//! `<{Field}Original>`, the original text with every character outside the file's set as a
//! numeric character reference (`&#x9AD9;`) — lossless even in Shift_JIS. Readers that look up
//! elements by name ignore both.

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
