//! Local JSON API: the same receptions as the XML files, for programs that would rather ask.
//!
//! HTTP on the loopback interface only ([`ApiServer::start`] refuses any other address), GET
//! only, JSON bodies (`serde_json` of [`crate::model::Reception`], UTF-8, names unconverted):
//!
//! | request | answer |
//! |---|---|
//! | `GET /health` | `{"status":"ok","version":"…"}` |
//! | `GET /receptions?since=<unix ms>` | receptions verified at or after `since` (default 0), oldest first |
//! | `GET /receptions/{reader}/{session}` | that reception, or 404 (`reader` percent-encoded) |
//! | `GET /requests/waiting` | receipt-computer requests waiting for the eligibility service, with the reason ([`crate::journal::WaitingRequest`]) |
//!
//! Each reception carries `receipt_references`: the fields of its `face` file that needed
//! numeric character references because the receipt computer's character set lacks a
//! character (`[{"element":"Name","chars":["𠮷"]}]`) — the flag staff need to check how the
//! receipt computer shows the name; the file itself carries the name unchanged.
//!
//! Loopback alone does not stop a web page in the clinic's browser from reaching the API via
//! DNS rebinding, and the answers are patient data: requests whose `Host` is not a loopback
//! name are refused with 403, and no CORS headers are ever sent.
//!
//! The data comes from a [`ReceptionSource`], so the API can be tested (and run) without the
//! rest of the driver; [`MemorySource`] is a simple one.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::model::Reception;

/// Where the API's receptions come from (the durable log in the driver, a vector in tests).
pub trait ReceptionSource: Send + Sync {
    /// Receptions with `verified_at >= since_unix_ms`, oldest first.
    fn since(&self, since_unix_ms: u64) -> Vec<Reception>;
    /// The reception with this reader and session, if any.
    fn get(&self, reader: &str, session: u32) -> Option<Reception>;
    /// Requests from the receipt computer waiting for the eligibility service.
    fn waiting(&self) -> Vec<crate::journal::WaitingRequest> {
        Vec::new()
    }
    /// The encoding of the receipt computer's files (decides which characters need references).
    fn encoding(&self) -> crate::receipt::FileEncoding {
        crate::receipt::FileEncoding::default()
    }
}

/// A reception as the API shows it.
#[derive(serde::Serialize)]
struct ReceptionView<'a> {
    #[serde(flatten)]
    reception: &'a Reception,
    receipt_references: Vec<crate::receipt::Referenced>,
}

fn view(r: &Reception, encoding: crate::receipt::FileEncoding) -> ReceptionView<'_> {
    let cfg = crate::receipt::WriterConfig { medical_institution_code: String::new(), encoding };
    let referenced = crate::receipt::render_reception(r, 0, &cfg).referenced;
    ReceptionView { reception: r, receipt_references: referenced }
}

/// Receptions kept in memory.
#[derive(Default)]
pub struct MemorySource {
    receptions: Mutex<Vec<Reception>>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a reception, replacing the one with the same reader and session.
    pub fn upsert(&self, r: Reception) {
        let mut v = self.receptions.lock().unwrap_or_else(|e| e.into_inner());
        match v.iter_mut().find(|x| x.reader == r.reader && x.session == r.session) {
            Some(x) => *x = r,
            None => v.push(r),
        }
    }
}

impl ReceptionSource for MemorySource {
    fn since(&self, since_unix_ms: u64) -> Vec<Reception> {
        let v = self.receptions.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Reception> = v.iter().filter(|r| r.verified_at >= since_unix_ms).cloned().collect();
        out.sort_by_key(|r| r.verified_at);
        out
    }

    fn get(&self, reader: &str, session: u32) -> Option<Reception> {
        let v = self.receptions.lock().unwrap_or_else(|e| e.into_inner());
        v.iter().find(|r| r.reader == reader && r.session == session).cloned()
    }
}

/// A response before it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

fn json_error(status: u16, message: &str) -> Reply {
    Reply { status, body: serde_json::json!({ "error": message }).to_string() }
}

fn json_ok<T: serde::Serialize>(value: &T) -> Reply {
    match serde_json::to_string(value) {
        Ok(body) => Reply { status: 200, body },
        Err(e) => json_error(500, &e.to_string()),
    }
}

/// Whether a `Host` header names the loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inner, port)) if port.is_empty() || port.starts_with(':') => inner,
            _ => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Decodes `%XX` escapes; `None` for a malformed escape or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Answers one request. Pure: no I/O besides the source.
pub fn handle(method: &str, url: &str, host: Option<&str>, source: &dyn ReceptionSource) -> Reply {
    if let Some(h) = host {
        if !is_loopback_host(h) {
            return json_error(403, "only loopback host names are served");
        }
    }
    if method != "GET" {
        return json_error(405, "only GET is supported");
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        ["health"] => json_ok(&serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })),
        ["receptions"] => {
            let mut since = 0u64;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if k == "since" {
                    match v.parse() {
                        Ok(s) => since = s,
                        Err(_) => return json_error(400, "since must be Unix milliseconds"),
                    }
                }
            }
            let all = source.since(since);
            let views: Vec<ReceptionView<'_>> = all.iter().map(|r| view(r, source.encoding())).collect();
            json_ok(&views)
        }
        ["receptions", reader, session] => {
            let Some(reader) = percent_decode(reader) else {
                return json_error(400, "malformed reader");
            };
            let Ok(session) = session.parse::<u32>() else {
                return json_error(400, "session must be a number");
            };
            match source.get(&reader, session) {
                Some(r) => json_ok(&view(&r, source.encoding())),
                None => json_error(404, "no such reception"),
            }
        }
        ["requests", "waiting"] => json_ok(&source.waiting()),
        _ => json_error(404, "no such resource"),
    }
}

/// The API server: one thread answering requests in turn until shut down.
pub struct ApiServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Listens on `127.0.0.1:port` (`port` 0 picks a free one).
    pub fn start_loopback(port: u16, source: Arc<dyn ReceptionSource>) -> io::Result<Self> {
        Self::start(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port), source)
    }

    /// Listens on `addr`, which must be a loopback address.
    pub fn start(addr: SocketAddr, source: Arc<dyn ReceptionSource>) -> io::Result<Self> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the API listens on loopback only, not {addr}"),
            ));
        }
        let server = tiny_http::Server::http(addr).map_err(io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("server did not bind an IP address"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new().name("shikaku-api".into()).spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let rq = match server.recv_timeout(Duration::from_millis(100)) {
                    Ok(Some(rq)) => rq,
                    Ok(None) => continue,
                    Err(_) => continue,
                };
                let host =
                    rq.headers().iter().find(|h| h.field.equiv("Host")).map(|h| h.value.as_str().to_owned());
                let reply = handle(rq.method().as_str(), rq.url(), host.as_deref(), source.as_ref());
                let mut resp = tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
                for (k, v) in [
                    ("Content-Type", "application/json; charset=utf-8"),
                    ("Cache-Control", "no-store"),
                    ("X-Content-Type-Options", "nosniff"),
                ] {
                    if let Ok(h) = tiny_http::Header::from_bytes(k, v) {
                        resp = resp.with_header(h);
                    }
                }
                let _ = rq.respond(resp);
            }
        })?;
        Ok(ApiServer { addr, stop, thread: Some(thread) })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering and waits for the server thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:9", "[::1]", "127.1.2.3"]
        {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["evil.example", "evil.example:80", "192.168.1.2", "[::2]:1", "localhost.evil", "[::1]x"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("R%2D1%20a").as_deref(), Some("R-1 a"));
        assert_eq!(percent_decode("%E9%AB%99").as_deref(), Some("髙"));
        assert_eq!(percent_decode("%G1"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%FF"), None);
    }
}
