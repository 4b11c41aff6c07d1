//! The JSON API over real loopback HTTP, with an in-memory source.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use shikaku_host::api::{ApiServer, MemorySource, ReceptionSource};
use shikaku_host::model::{Method, Reception};
use shikaku_host::receipt::{render_reception, FileEncoding, WriterConfig};

fn reception(reader: &str, session: u32, verified_at: u64, name: &str) -> Reception {
    Reception {
        reader: reader.into(),
        session,
        seq: 1,
        method: Method::Face,
        cert_sha256: "cd".repeat(32),
        staff_account: Some("staff-01".into()),
        registration: false,
        verified_at,
        eligibility: Some(common::eligibility(name)),
        error_code: None,
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn http(addr: SocketAddr, method: &str, path: &str, host: Option<&str>) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let host_line = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\n{host_line}Connection: close\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Resp { status, headers, body: body.to_owned() }
}

fn get(addr: SocketAddr, path: &str) -> Resp {
    http(addr, "GET", path, Some(&addr.to_string()))
}

fn setup() -> (Arc<MemorySource>, ApiServer, Vec<Reception>) {
    let source = Arc::new(MemorySource::new());
    let rs = vec![
        reception("SK-0001", 1, 1_000, "山田 花子"),
        reception("SK-0001", 2, 2_000, "髙橋 𠮷子"),
        reception("SK/0002 front", 1, 3_000, "鈴木 一郎"),
    ];
    for r in &rs {
        source.upsert(r.clone());
    }
    let server = ApiServer::start_loopback(0, source.clone()).unwrap();
    (source, server, rs)
}

#[test]
fn health_and_listing() {
    let (_source, server, rs) = setup();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());

    let r = get(addr, "/health");
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Type").unwrap().starts_with("application/json"));
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "ok");

    let r = get(addr, "/receptions");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
    let all: Vec<Reception> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(all, rs);

    let r = get(addr, "/receptions?since=2000");
    let some: Vec<Reception> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(some, rs[1..]);

    let r = get(addr, "/receptions?since=99999");
    assert_eq!(r.body, "[]");
    server.shutdown();
}

#[test]
fn one_reception_is_the_same_data_as_the_xml() {
    let (_source, server, rs) = setup();
    let addr = server.local_addr();
    let r = get(addr, "/receptions/SK-0001/2");
    assert_eq!(r.status, 200);
    let got: Reception = serde_json::from_str(&r.body).unwrap();
    assert_eq!(got, rs[1]);
    // UTF-8 end to end: the name exactly as the UTF-8 XML file carries it.
    let cfg = WriterConfig { medical_institution_code: "1311111111".into(), encoding: FileEncoding::Utf8 };
    let xml = String::from_utf8(render_reception(&rs[1], 0, &cfg).bytes).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let name = doc.descendants().find(|n| n.has_tag_name("Name")).unwrap().text().unwrap();
    assert_eq!(Some(name), got.eligibility.as_ref().unwrap().qualification.as_ref().map(|q| q.name.as_str()));
    assert_eq!(name, "髙橋 𠮷子");
    // The flag staff need: which characters the receipt computer's set (CP932) lacks.
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["receipt_references"], serde_json::json!([{ "element": "Name", "chars": ["𠮷"] }]));

    // A reader id with characters that must be percent-encoded.
    let r = get(addr, "/receptions/SK%2F0002%20front/1");
    assert_eq!(r.status, 200, "{}", r.body);
    let got: Reception = serde_json::from_str(&r.body).unwrap();
    assert_eq!(got, rs[2]);
}

#[test]
fn errors_are_json_with_the_right_status() {
    let (_source, server, _) = setup();
    let addr = server.local_addr();
    for (method, path, status) in [
        ("GET", "/receptions/SK-0001/9", 404),
        ("GET", "/receptions/nobody/1", 404),
        ("GET", "/receptions/SK-0001/x", 400),
        ("GET", "/receptions/%ZZ/1", 400),
        ("GET", "/receptions?since=yesterday", 400),
        ("GET", "/nothing", 404),
        ("GET", "/", 404),
        ("POST", "/receptions", 405),
        ("DELETE", "/receptions/SK-0001/1", 405),
    ] {
        let r = http(addr, method, path, Some("127.0.0.1"));
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(v["error"].is_string(), "{method} {path}");
    }
}

#[test]
fn foreign_host_names_are_refused() {
    let (_source, server, _) = setup();
    let addr = server.local_addr();
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1.
    let r = http(addr, "GET", "/receptions", Some("evil.example"));
    assert_eq!(r.status, 403);
    assert!(!r.body.contains("SK-0001"));
    for host in ["localhost", "localhost:1234", "127.0.0.1"] {
        assert_eq!(http(addr, "GET", "/health", Some(host)).status, 200, "{host}");
    }
}

#[test]
fn only_loopback_addresses_are_accepted() {
    let source: Arc<dyn ReceptionSource> = Arc::new(MemorySource::new());
    for addr in ["0.0.0.0:0", "192.0.2.1:0", "[::]:0"] {
        let err = ApiServer::start(addr.parse().unwrap(), source.clone()).err().expect(addr);
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{addr}");
    }
}

#[test]
fn new_receptions_show_up_and_shutdown_frees_the_port() {
    let (source, server, _) = setup();
    let addr = server.local_addr();
    source.upsert(reception("SK-0003", 5, 4_000, "新 規"));
    let r = get(addr, "/receptions?since=4000");
    let v: Vec<Reception> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].reader, "SK-0003");
    server.shutdown();
    // tiny_http's accept thread lets go of the listener shortly after the server is dropped.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        assert!(std::time::Instant::now() < deadline, "still listening after shutdown");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Waiting;

impl ReceptionSource for Waiting {
    fn since(&self, _: u64) -> Vec<Reception> {
        Vec::new()
    }
    fn get(&self, _: &str, _: u32) -> Option<Reception> {
        None
    }
    fn waiting(&self) -> Vec<shikaku_host::journal::WaitingRequest> {
        vec![shikaku_host::journal::WaitingRequest {
            file: "OQSsiquc01req_9.xml".into(),
            identifier: Some("c9".into()),
            since_ms: 5,
            attempts: 2,
            last_code: 601,
            reason: "unreachable".into(),
        }]
    }
}

#[test]
fn requests_waiting_for_the_eligibility_service_are_listed_with_their_reason() {
    let server = ApiServer::start_loopback(0, Arc::new(Waiting)).unwrap();
    let r = get(server.local_addr(), "/requests/waiting");
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v[0]["file"], "OQSsiquc01req_9.xml");
    assert_eq!(v[0]["attempts"], 2);
    assert_eq!(v[0]["reason"], "unreachable");
    server.shutdown();
}
