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
//! The reader is strict about what it needs and lenient about the rest: unknown elements are
//! ignored, element order does not matter, values are trimmed (保険者番号 arrives right-aligned
//! with spaces). Anything it cannot use is a typed [`ReqError`], never a panic: input larger
//! than [`MAX_REQ_BYTES`], an unknown or undecodable encoding, a DTD, malformed XML, a wrong
//! root, a missing or repeated field, a malformed value.

use std::borrow::Cow;
use std::fmt;

use quick_xml::events::Event;
use quick_xml::Reader;

/// Requests are a few hundred bytes; anything beyond this is not one.
pub const MAX_REQ_BYTES: usize = 64 * 1024;
const MAX_DEPTH: usize = 16;
const MAX_ELEMENTS: usize = 512;

/// The request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    pub qualification_confirmation_date: Option<String>,
    pub medical_institution_code: String,
    pub arbitrary_file_identifier: Option<String>,
    pub reference_classification: Option<String>,
    pub character_code_identifier: Option<String>,
}

/// `QualificationConfirmSearchInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchInfo {
    pub insurer_number: String,
    pub insured_card_symbol: Option<String>,
    pub insured_identification_number: String,
    pub insured_branch_number: Option<String>,
    /// YYYYMMDD
    pub birthdate: String,
    pub limit_application_consent: Option<bool>,
    pub arbitrary_identifier: Option<String>,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QualificationRequest {
    pub header: RequestHeader,
    pub search: SearchInfo,
}

/// Why a request file was refused.
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
    Missing { field: &'static str },
    Duplicate { field: &'static str },
    Invalid { field: &'static str, value: String },
}

impl ReqError {
    /// The `SHK` code written in the error answer's header.
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
            ReqError::Missing { .. } | ReqError::Duplicate { .. } => "SHK1006",
            ReqError::Invalid { .. } => "SHK1007",
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
            ReqError::Missing { field } => write!(f, "{field} is missing"),
            ReqError::Duplicate { field } => write!(f, "{field} appears more than once"),
            ReqError::Invalid { field, value } => write!(f, "{field} has an invalid value {value:?}"),
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
    fn child(&self, name: &'static str) -> Result<Option<&Node>, ReqError> {
        let mut found = self.children.iter().filter(|c| c.name == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(ReqError::Duplicate { field: name });
        }
        Ok(first)
    }

    /// The trimmed text of a child; an empty element counts as absent.
    fn value(&self, name: &'static str) -> Result<Option<String>, ReqError> {
        Ok(self.child(name)?.map(|n| n.text.trim().to_owned()).filter(|t| !t.is_empty()))
    }

    fn required(&self, name: &'static str) -> Result<String, ReqError> {
        self.value(name)?.ok_or(ReqError::Missing { field: name })
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
                match stack.last_mut() {
                    Some(n) => n.text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err(xml_err(&reader, "text outside the root element")),
                }
            }
            Event::CData(t) => {
                let t = t.decode().map_err(|e| xml_err(&reader, e))?;
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

fn digits(field: &'static str, v: String, lens: &[usize]) -> Result<String, ReqError> {
    if v.bytes().all(|b| b.is_ascii_digit()) && lens.contains(&v.len()) {
        Ok(v)
    } else {
        Err(ReqError::Invalid { field, value: v })
    }
}

/// Parses a request file's bytes.
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
    let h = root.child("MessageHeader")?.ok_or(ReqError::Missing { field: "MessageHeader" })?;
    let header = RequestHeader {
        qualification_confirmation_date: h
            .value("QualificationConfirmationDate")?
            .map(|v| digits("QualificationConfirmationDate", v, &[8]))
            .transpose()?,
        medical_institution_code: digits(
            "MedicalInstitutionCode",
            h.required("MedicalInstitutionCode")?,
            &[10],
        )?,
        arbitrary_file_identifier: h.value("ArbitraryFileIdentifier")?,
        reference_classification: h.value("ReferenceClassification")?,
        character_code_identifier: h.value("CharacterCodeIdentifier")?,
    };
    let b = root.child("MessageBody")?.ok_or(ReqError::Missing { field: "MessageBody" })?;
    let s = b
        .child("QualificationConfirmSearchInfo")?
        .ok_or(ReqError::Missing { field: "QualificationConfirmSearchInfo" })?;
    let search = SearchInfo {
        insurer_number: digits("InsurerNumber", s.required("InsurerNumber")?, &[6, 8])?,
        insured_card_symbol: s.value("InsuredCardSymbol")?,
        insured_identification_number: s.required("InsuredIdentificationNumber")?,
        insured_branch_number: s
            .value("InsuredBranchNumber")?
            .map(|v| digits("InsuredBranchNumber", v, &[2]))
            .transpose()?,
        birthdate: digits("Birthdate", s.required("Birthdate")?, &[8])?,
        limit_application_consent: match s.value("LimitApplicationCertificateRelatedConsFlg")?.as_deref() {
            None => None,
            Some("1") => Some(true),
            Some("0") => Some(false),
            Some(v) => {
                return Err(ReqError::Invalid {
                    field: "LimitApplicationCertificateRelatedConsFlg",
                    value: v.into(),
                })
            }
        },
        arbitrary_identifier: s.value("ArbitraryIdentifier")?,
    };
    Ok(QualificationRequest { header, search })
}
