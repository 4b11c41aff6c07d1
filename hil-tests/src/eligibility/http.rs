//! The HTTP front of the service (`tiny_http`, a few worker threads).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use shikaku_host::eligibility::wire::{self, RegisteredQuery};
use shikaku_host::eligibility::ErrorCode;

use super::service::{Refusal, Service};

const WORKERS: usize = 4;
const MAX_BODY: u64 = 64 * 1024;

/// A running service; stops on [`RunningServer::shutdown`] or drop.
pub struct RunningServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    service: Arc<Service>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Stops accepting and joins the workers.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Blocks until the server stops (the binary).
    pub fn wait(mut self) {
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }

    fn stop(&mut self) {
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves `service` on `listen`.
pub fn serve(service: Arc<Service>, listen: &str) -> Result<RunningServer, String> {
    let server =
        Arc::new(tiny_http::Server::http(listen).map_err(|e| format!("listening on {listen}: {e}"))?);
    let addr =
        server.server_addr().to_ip().ok_or_else(|| format!("listening on {listen}: not an IP address"))?;
    let workers = (0..WORKERS)
        .map(|_| {
            let server = server.clone();
            let service = service.clone();
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    handle(&service, request);
                }
            })
        })
        .collect();
    Ok(RunningServer { addr, server, workers, service })
}

fn handle(service: &Service, mut request: tiny_http::Request) {
    let mut body = Vec::new();
    let read = request.as_reader().take(MAX_BODY + 1).read_to_end(&mut body);
    let (status, text) = if read.is_err() || body.len() as u64 > MAX_BODY {
        refusal(&Refusal::new(ErrorCode::BadRequest, "body unreadable or larger than 64 KiB"))
    } else {
        route(service, request.method(), request.url(), &body)
    };
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json; charset=utf-8"[..])
        .expect("static header");
    let response = tiny_http::Response::from_string(text).with_status_code(status).with_header(header);
    let _ = request.respond(response);
}

fn refusal(r: &Refusal) -> (u16, String) {
    (r.http_status(), serde_json::to_string(&r.body()).unwrap_or_default())
}

fn json<T: serde::Serialize>(v: Result<T, Refusal>) -> (u16, String) {
    match v {
        Ok(v) => (200, serde_json::to_string(&v).unwrap_or_default()),
        Err(r) => refusal(&r),
    }
}

fn route(service: &Service, method: &tiny_http::Method, url: &str, body: &[u8]) -> (u16, String) {
    use tiny_http::Method::{Get, Post};
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    match (method, path) {
        (Post, "/challenge") => json(service.challenge()),
        (Post, "/eligibility") => service.eligibility_http(body),
        (Post, "/registration") => service.registration_http(body),
        (Post, "/insured") => service.insured_http(body),
        (Get, "/registered") => {
            let hash = query.split('&').find_map(|kv| kv.strip_prefix("cert_sha256=")).unwrap_or("");
            json(service.registered_by_hash(hash))
        }
        (Post, "/registered") => match serde_json::from_slice::<RegisteredQuery>(body) {
            Ok(q) => match wire::b64_decode(&q.auth_cert) {
                Some(der) => json(service.registered_by_cert(&der)),
                None => refusal(&Refusal::new(ErrorCode::CertMalformed, "auth_cert is not base64")),
            },
            Err(e) => refusal(&Refusal::new(ErrorCode::BadRequest, format!("request: {e}"))),
        },
        (Get, "/health") => (200, r#"{"ok":true}"#.to_owned()),
        _ => refusal(&Refusal::new(ErrorCode::BadRequest, format!("no route {method} {path}"))),
    }
}
