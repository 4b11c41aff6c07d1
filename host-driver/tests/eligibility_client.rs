//! The HTTP eligibility client against fake services on 127.0.0.1: down then up, down for
//! good, slow, garbage, refusals, 5xx. Each fake counts the connections it served.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shikaku_host::eligibility::{EligibilityService, ErrorCode, HttpEligibility, RetryPolicy, Timeouts};

/// What the fake answers to the n-th connection (0-based).
type Script = dyn Fn(usize) -> Reply + Send + Sync;

enum Reply {
    Http(u16, String),
    Raw(Vec<u8>),
    Sleep(Duration, u16, String),
}

struct Fake {
    port: u16,
    served: Arc<AtomicUsize>,
}

/// Reads one HTTP request (headers and a Content-Length body).
fn read_request(stream: &mut TcpStream) -> String {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    head + &String::from_utf8_lossy(&body)
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn serve_on(listener: TcpListener, script: Arc<Script>) -> Fake {
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            std::thread::spawn(move || {
                let _ = read_request(&mut stream);
                match script(n) {
                    Reply::Http(status, body) => respond(&mut stream, status, &body),
                    Reply::Raw(bytes) => {
                        let _ = stream.write_all(&bytes);
                    }
                    Reply::Sleep(d, status, body) => {
                        std::thread::sleep(d);
                        respond(&mut stream, status, &body);
                    }
                }
            });
        }
    });
    Fake { port, served }
}

fn fake(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Fake {
    serve_on(TcpListener::bind("127.0.0.1:0").unwrap(), Arc::new(script))
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

const CHALLENGE: &str =
    r#"{"challenge":"0000000000000000000000000000000000000000000000000000000000000001","expires_at_ms":1}"#;

fn client(port: u16, attempts: u32, initial_ms: u64, total_ms: u64) -> HttpEligibility {
    HttpEligibility::with(
        &format!("http://127.0.0.1:{port}"),
        Timeouts { connect: Duration::from_millis(500), total: Duration::from_millis(total_ms) },
        RetryPolicy {
            attempts,
            initial_backoff: Duration::from_millis(initial_ms),
            max_backoff: Duration::from_millis(800),
        },
    )
}

#[test]
fn retries_with_backoff_until_the_service_comes_up() {
    let port = free_port();
    let up = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        serve_on(
            TcpListener::bind(("127.0.0.1", port)).unwrap(),
            Arc::new(|_| Reply::Http(200, CHALLENGE.into())),
        )
    });
    let c = client(port, 8, 100, 2000);
    let t = Instant::now();
    let got = c.challenge().expect("answered once up");
    assert!(t.elapsed() >= Duration::from_millis(700));
    assert_eq!(got.bytes().unwrap()[31], 1);
    let fake = up.join().unwrap();
    assert_eq!(fake.served.load(Ordering::SeqCst), 1);
}

#[test]
fn down_for_good_is_unreachable_after_exponential_backoff() {
    let c = client(free_port(), 3, 150, 1000);
    let t = Instant::now();
    let e = c.challenge().unwrap_err();
    // Two pauses: 150 ms, then 300 ms.
    assert!(t.elapsed() >= Duration::from_millis(450), "{:?}", t.elapsed());
    assert_eq!(e.code, ErrorCode::ServiceUnreachable);
    assert!(e.is_retryable());
    assert!(e.staff_message().starts_with("[E601]"), "{}", e.staff_message());
}

#[test]
fn a_slow_service_times_out_on_every_attempt() {
    let fake = fake(|_| Reply::Sleep(Duration::from_secs(3), 200, CHALLENGE.into()));
    let c = client(fake.port, 2, 50, 300);
    let t = Instant::now();
    let e = c.challenge().unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceTimeout, "{e}");
    assert!(t.elapsed() < Duration::from_millis(2000), "{:?}", t.elapsed());
    assert_eq!(fake.served.load(Ordering::SeqCst), 2);
}

#[test]
fn garbage_is_a_bad_response_and_retried() {
    let fake = fake(|_| Reply::Http(200, "<html>maintenance</html>".into()));
    let e = client(fake.port, 3, 20, 1000).challenge().unwrap_err();
    assert_eq!(e.code, ErrorCode::BadResponse);
    assert_eq!(fake.served.load(Ordering::SeqCst), 3);

    // Not even HTTP.
    let raw = self::fake(|_| Reply::Raw(b"\x00\x01\x02 not http at all\r\n\r\n".to_vec()));
    let e = client(raw.port, 2, 20, 1000).challenge().unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(raw.served.load(Ordering::SeqCst), 2);

    // A challenge of the wrong size.
    let short = self::fake(|_| Reply::Http(200, r#"{"challenge":"00","expires_at_ms":1}"#.into()));
    assert_eq!(client(short.port, 1, 20, 1000).challenge().unwrap_err().code, ErrorCode::BadResponse);
}

#[test]
fn a_refusal_is_final_and_not_retried() {
    let fake = fake(|_| {
        Reply::Http(403, r#"{"code":611,"name":"cert_lapsed","message":"expired 200 days ago"}"#.into())
    });
    let e = client(fake.port, 5, 20, 1000).challenge().unwrap_err();
    assert_eq!(e.code, ErrorCode::CertLapsed);
    assert!(!e.is_retryable());
    assert_eq!(e.detail, "expired 200 days ago");
    assert_eq!(fake.served.load(Ordering::SeqCst), 1);
}

#[test]
fn server_errors_are_retried() {
    let fake =
        fake(|n| if n < 2 { Reply::Http(503, "busy".into()) } else { Reply::Http(200, CHALLENGE.into()) });
    assert!(client(fake.port, 4, 20, 1000).challenge().is_ok());
    assert_eq!(fake.served.load(Ordering::SeqCst), 3);
}

#[test]
fn unknown_hash_falls_back_to_asking_with_the_certificate() {
    let fake = fake(|n| match n {
        0 => Reply::Http(404, r#"{"code":622,"name":"cert_unknown","message":"never seen"}"#.into()),
        _ => Reply::Http(200, r#"{"registered":true}"#.into()),
    });
    assert!(client(fake.port, 1, 20, 1000).is_registered(b"certificate bytes").unwrap());
    assert_eq!(fake.served.load(Ordering::SeqCst), 2);
}
