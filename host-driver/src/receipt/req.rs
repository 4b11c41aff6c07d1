//! Reading `OQSsiquc01req_*.xml` requests (資格確認, 照会区分 2: by insurance-card data).
//!
//! The request layout, as public integrations write it:
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8" standalone="no"?>
//! <XmlMsg>
//!   <MessageHeader>
//!     <QualificationConfirmationDate>20250401</QualificationConfirmationDate>
//!     <MedicalInstitutionCode>1311111111</MedicalInstitutionCode>
//!     <ArbitraryFileIdentifier>clinic_0001</ArbitraryFileIdentifier>
//!   </MessageHeader>
//!   <MessageBody>
//!     <QualificationConfirmSearchInfo>
//!       <InsurerNumber>06139999</InsurerNumber>
//!       <InsuredCardSymbol>12</InsuredCardSymbol>
//!       <InsuredIdentificationNumber>3456</InsuredIdentificationNumber>
//!       <InsuredBranchNumber>01</InsuredBranchNumber>
//!       <Birthdate>19800101</Birthdate>
//!       <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>
//!     </QualificationConfirmSearchInfo>
//!   </MessageBody>
//! </XmlMsg>
//! ```
//!
//! Two levels of failure, answered differently (see [`super::ReqWatcher`]):
//!
//! * **unreadable** ([`ReqError`]): larger than [`MAX_REQ_BYTES`], empty, an unknown or
//!   undecodable encoding, a DTD, malformed or truncated XML, a root other than `XmlMsg`. There
//!   is no identifier to answer with: the request goes back into `res` beside a `.err`.
//! * **readable but unusable** ([`FieldError`]): a required field missing or repeated, a value
//!   malformed. Answered in `res` with the identifier, date and search keys echoed and a
//!   `ProcessingResultCode` naming the problem.
//!
//! Values are kept exactly as they came (to be echoed byte for byte) and trimmed only for the
//! lookup (保険者番号 arrives right-aligned with spaces, or zero-padded to 8). Unknown elements
//! are ignored and order does not matter; an empty element counts as absent. Nothing here
//! panics on any input (`host-driver/fuzz`, target `req_xml`).

use std::borrow::Cow;
use std::fmt;

use quick_xml::events::Event;
use quick_xml::Reader;

/// Requests are a few hundred bytes; anything beyond this is not one.
pub const MAX_REQ_BYTES: usize = 64 * 1024;
const MAX_DEPTH: usize = 16;
const MAX_ELEMENTS: usize = 512;

/// The request header, values as they came.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    pub qualification_confirmation_date: Option<String>,
    pub medical_institution_code: Option<String>,
    pub arbitrary_file_identifier: Option<String>,
    pub reference_classification: Option<String>,
    pub character_code_identifier: Option<String>,
}

/// `QualificationConfirmSearchInfo`, values as they came (`Some("")` for an empty element).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchInfo {
    pub insurer_number: Option<String>,
    pub insured_card_symbol: Option<String>,
    pub insured_identification_number: Option<String>,
    pub insured_branch_number: Option<String>,
    /// YYYYMMDD
    pub birthdate: Option<String>,
    /// `0` / `1`
    pub limit_application_consent: Option<String>,
    pub arbitrary_identifier: Option<String>,
}

/// A readable request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QualificationRequest {
    pub header: RequestHeader,
    pub search: Option<SearchInfo>,
    /// A structural problem found while reading (a missing `MessageHeader`, a repeated field):
    /// the request is answered with it.
    problem: Option<FieldError>,
}

/// What a request asks the eligibility service, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub query: crate::eligibility::InsuredQuery,
    /// 限度額適用認定証 information may be handed over (`LimitApplicationCertificateRelatedConsFlg` 1).
    pub limit_consent: bool,
}

/// Why a readable request cannot be looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("{field} がありません (missing)")]
    Missing { field: &'static str },
    #[error("{field} が複数あります (repeated)")]
    Duplicate { field: &'static str },
    #[error("{field} の値が不正です (invalid): {value:?}")]
    Invalid { field: &'static str, value: String },
}

impl FieldError {
    /// The `ProcessingResultCode` of the answer (`SHK2…`: shikaku's own).
    pub fn code(&self) -> &'static str {
        match self {
            FieldError::Missing { .. } => "SHK2001",
            FieldError::Duplicate { .. } => "SHK2002",
            FieldError::Invalid { .. } => "SHK2003",
        }
    }
}

impl QualificationRequest {
    /// The checked lookup: required fields present, values well-formed.
    pub fn lookup(&self) -> Result<Lookup, FieldError> {
        if let Some(p) = &self.problem {
            return Err(p.clone());
        }
        let h = &self.header;
        let date =
            digits("QualificationConfirmationDate", h.qualification_confirmation_date.as_deref(), &[8])?;
        date_value("QualificationConfirmationDate", &date)?;
        digits("MedicalInstitutionCode", h.medical_institution_code.as_deref(), &[10])?;
        let s =
            self.search.as_ref().ok_or(FieldError::Missing { field: "QualificationConfirmSearchInfo" })?;
        let insurer = digits("InsurerNumber", s.insurer_number.as_deref(), &[6, 8])?;
        // A 6-digit 国保 number zero-padded to 8 (no 8-digit insurer number starts with 00).
        let insurer = match insurer.strip_prefix("00") {
            Some(six) if insurer.len() == 8 => six.to_owned(),
            _ => insurer,
        };
        let number = present(s.insured_identification_number.as_deref())
            .ok_or(FieldError::Missing { field: "InsuredIdentificationNumber" })?;
        let birth = digits("Birthdate", s.birthdate.as_deref(), &[8])?;
        date_value("Birthdate", &birth)?;
        let branch = match present(s.insured_branch_number.as_deref()) {
            None => None,
            Some(b) => Some(digits("InsuredBranchNumber", Some(b), &[2])?),
        };
        let limit_consent = match present(s.limit_application_consent.as_deref()) {
            None => return Err(FieldError::Missing { field: "LimitApplicationCertificateRelatedConsFlg" }),
            Some("1") => true,
            Some("0") => false,
            Some(v) => {
                return Err(FieldError::Invalid {
                    field: "LimitApplicationCertificateRelatedConsFlg",
                    value: v.into(),
                })
            }
        };
        Ok(Lookup {
            query: crate::eligibility::InsuredQuery {
                insurer_number: insurer,
                symbol: present(s.insured_card_symbol.as_deref()).map(str::to_owned),
                number: number.to_owned(),
                branch,
                birth_date: birth,
                date,
            },
            limit_consent,
        })
    }
}

/// The trimmed value; an empty element counts as absent.
fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|t| !t.is_empty())
}

fn digits(field: &'static str, v: Option<&str>, lens: &[usize]) -> Result<String, FieldError> {
    let v = present(v).ok_or(FieldError::Missing { field })?;
    if v.bytes().all(|b| b.is_ascii_digit()) && lens.contains(&v.len()) {
        Ok(v.to_owned())
    } else {
        Err(FieldError::Invalid { field, value: v.to_owned() })
    }
}

/// Whether `v` is exactly `YYYYMMDD` naming a day of the calendar.
pub(crate) fn is_date(v: &str) -> bool {
    v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) && date_value("", v).is_ok()
}

/// `YYYYMMDD` naming a day of the calendar.
fn date_value(field: &'static str, v: &str) -> Result<(), FieldError> {
    let n = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if y >= 1868 && (1..=days).contains(&d) {
        Ok(())
    } else {
        Err(FieldError::Invalid { field, value: v.to_owned() })
    }
}

/// Why a request file cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReqError {
    TooLarge { len: usize },
    Empty,
    UnsupportedEncoding { label: String },
    Undecodable { encoding: &'static str },
    DoctypeNotAllowed,
    Xml { position: u64, message: String },
    WrongRoot { found: String },
    TooDeep,
    TooManyElements,
}

impl ReqError {
    /// The `SHK1…` code written in the `.err` file.
    pub fn code(&self) -> &'static str {
        match self {
            ReqError::TooLarge { .. } => "SHK1001",
            ReqError::Empty => "SHK1002",
            ReqError::UnsupportedEncoding { .. } | ReqError::Undecodable { .. } => "SHK1003",
            ReqError::DoctypeNotAllowed
            | ReqError::Xml { .. }
            | ReqError::TooDeep
            | ReqError::TooManyElements => "SHK1004",
            ReqError::WrongRoot { .. } => "SHK1005",
        }
    }
}

impl fmt::Display for ReqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReqError::TooLarge { len } => write!(f, "request too large ({len} bytes, limit {MAX_REQ_BYTES})"),
            ReqError::Empty => write!(f, "empty request file"),
            ReqError::UnsupportedEncoding { label } => write!(f, "unsupported encoding {label:?}"),
            ReqError::Undecodable { encoding } => write!(f, "bytes are not valid {encoding}"),
            ReqError::DoctypeNotAllowed => write!(f, "DOCTYPE is not allowed"),
            ReqError::Xml { position, message } => write!(f, "malformed XML at byte {position}: {message}"),
            ReqError::WrongRoot { found } => write!(f, "root element is {found:?}, expected XmlMsg"),
            ReqError::TooDeep => write!(f, "elements nested deeper than {MAX_DEPTH}"),
            ReqError::TooManyElements => write!(f, "more than {MAX_ELEMENTS} elements"),
        }
    }
}

impl std::error::Error for ReqError {}

/// Decodes the file's bytes: BOM first, then the XML declaration's `encoding`, else UTF-8.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, ReqError> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc
            .decode_without_bom_handling_and_without_replacement(&bytes[bom_len..])
            .ok_or(ReqError::Undecodable { encoding: enc.name() });
    }
    let enc = match declared_encoding(bytes) {
        Some(label) => match encoding_rs::Encoding::for_label(label.as_bytes()) {
            // UTF-16 without a BOM cannot have an ASCII declaration; refuse the lie.
            Some(e) if e != encoding_rs::UTF_16LE && e != encoding_rs::UTF_16BE => e,
            _ => return Err(ReqError::UnsupportedEncoding { label }),
        },
        None => encoding_rs::UTF_8,
    };
    enc.decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or(ReqError::Undecodable { encoding: enc.name() })
}

/// The `encoding` pseudo-attribute of an ASCII XML declaration, if any.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &bytes[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let at = decl.find("encoding")?;
    let after = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].to_owned())
}

#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &'static str) -> Result<Option<&Node>, FieldError> {
        let mut found = self.children.iter().filter(|c| c.name == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(FieldError::Duplicate { field: name });
        }
        Ok(first)
    }

    /// The text of a child exactly as it came.
    fn raw(&self, name: &'static str, problem: &mut Option<FieldError>) -> Option<String> {
        match self.child(name) {
            Ok(n) => n.map(|n| n.text.clone()),
            Err(e) => {
                problem.get_or_insert(e);
                self.children.iter().find(|c| c.name == name).map(|n| n.text.clone())
            }
        }
    }
}

/// XML 1.0 §2.11: a line end in the text (CR LF or a lone CR) reads as LF — what every XML
/// reader of the answer will see, so the echo compares equal. A CR written as `&#xD;` is a
/// reference and stays.
fn normalize_line_ends(t: &str) -> Cow<'_, str> {
    if t.contains('\r') {
        Cow::Owned(t.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(t)
    }
}

fn xml_err(reader: &Reader<&[u8]>, e: impl fmt::Display) -> ReqError {
    ReqError::Xml { position: reader.buffer_position(), message: e.to_string() }
}

fn parse_tree(text: &str) -> Result<Node, ReqError> {
    let mut reader = Reader::from_reader(text.as_bytes());
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut count = 0usize;
    loop {
        let ev = reader.read_event().map_err(|e| xml_err(&reader, e))?;
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(xml_err(&reader, "content after the root element"));
                }
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(ReqError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ReqError::TooDeep);
                }
                let name =
                    std::str::from_utf8(s.local_name().as_ref()).map_err(|e| xml_err(&reader, e))?.to_owned();
                let node = Node { name, ..Node::default() };
                if matches!(ev, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| xml_err(&reader, "unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                let t = t.decode().map_err(|e| xml_err(&reader, e))?;
                let t = normalize_line_ends(&t);
                match stack.last_mut() {
                    Some(n) => n.text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err(xml_err(&reader, "text outside the root element")),
                }
            }
            Event::CData(t) => {
                let t = t.decode().map_err(|e| xml_err(&reader, e))?;
                let t = normalize_line_ends(&t);
                match stack.last_mut() {
                    Some(n) => n.text.push_str(&t),
                    None => return Err(xml_err(&reader, "CDATA outside the root element")),
                }
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(|e| xml_err(&reader, e))?
                } else {
                    let name: &[u8] = &r;
                    match name {
                        b"amp" => Some('&'),
                        b"lt" => Some('<'),
                        b"gt" => Some('>'),
                        b"quot" => Some('"'),
                        b"apos" => Some('\''),
                        _ => None,
                    }
                };
                let c = c.ok_or_else(|| xml_err(&reader, "unknown entity reference"))?;
                match stack.last_mut() {
                    Some(n) => n.text.push(c),
                    None => return Err(xml_err(&reader, "reference outside the root element")),
                }
            }
            Event::DocType(_) => return Err(ReqError::DoctypeNotAllowed),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(xml_err(&reader, "unexpected end of file inside an element"));
    }
    root.ok_or(ReqError::Empty)
}

/// Reads a request file's bytes. `Err` only when it cannot be read at all; a readable request
/// with missing or malformed fields is `Ok`, and [`QualificationRequest::lookup`] says what is
/// wrong.
pub fn parse_request(bytes: &[u8]) -> Result<QualificationRequest, ReqError> {
    if bytes.len() > MAX_REQ_BYTES {
        return Err(ReqError::TooLarge { len: bytes.len() });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReqError::Empty);
    }
    let text = decode(bytes)?;
    let root = parse_tree(&text)?;
    if root.name != "XmlMsg" {
        return Err(ReqError::WrongRoot { found: root.name });
    }
    let mut problem = None;
    let header = match root.child("MessageHeader") {
        Ok(Some(h)) => RequestHeader {
            qualification_confirmation_date: h.raw("QualificationConfirmationDate", &mut problem),
            medical_institution_code: h.raw("MedicalInstitutionCode", &mut problem),
            arbitrary_file_identifier: h.raw("ArbitraryFileIdentifier", &mut problem),
            reference_classification: h.raw("ReferenceClassification", &mut problem),
            character_code_identifier: h.raw("CharacterCodeIdentifier", &mut problem),
        },
        Ok(None) => {
            problem = Some(FieldError::Missing { field: "MessageHeader" });
            RequestHeader::default()
        }
        Err(e) => {
            problem = Some(e);
            RequestHeader::default()
        }
    };
    let search = match root.child("MessageBody") {
        Ok(Some(b)) => match b.child("QualificationConfirmSearchInfo") {
            Ok(Some(s)) => Some(SearchInfo {
                insurer_number: s.raw("InsurerNumber", &mut problem),
                insured_card_symbol: s.raw("InsuredCardSymbol", &mut problem),
                insured_identification_number: s.raw("InsuredIdentificationNumber", &mut problem),
                insured_branch_number: s.raw("InsuredBranchNumber", &mut problem),
                birthdate: s.raw("Birthdate", &mut problem),
                limit_application_consent: s.raw("LimitApplicationCertificateRelatedConsFlg", &mut problem),
                arbitrary_identifier: s.raw("ArbitraryIdentifier", &mut problem),
            }),
            Ok(None) => None,
            Err(e) => {
                problem.get_or_insert(e);
                None
            }
        },
        Ok(None) => {
            problem.get_or_insert(FieldError::Missing { field: "MessageBody" });
            None
        }
        Err(e) => {
            problem.get_or_insert(e);
            None
        }
    };
    Ok(QualificationRequest { header, search, problem })
}
