//! [`EligibilityService`] over HTTP/1.1 (blocking, `ureq`): timeouts, and retries with
//! exponential back-off for transport failures only (an answer from the service is final).
//!
//! Retrying `POST /eligibility` is safe: the request carries its `request_id`, and the service
//! answers a repeated request exactly as the first time instead of refusing the used challenge.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::wire::{
    b64, cert_sha256, Challenge, EligibilityAnswer, EligibilityRequest, ErrorBody, InsuredQuery, Registered,
    RegisteredQuery, RegistrationRequest,
};
use super::{EligibilityError, EligibilityService, ErrorCode};

/// Exponential back-off between attempts of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total (at least 1).
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 4, initial_backoff: Duration::from_millis(250), max_backoff: Duration::from_secs(4) }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `n` (0-based): initial · 2ⁿ, capped.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Timeouts of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// The whole exchange, connect included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(3), total: Duration::from_secs(10) }
    }
}

/// The HTTP client of the eligibility service.
pub struct HttpEligibility {
    base: String,
    agent: ureq::Agent,
    retry: RetryPolicy,
}

const MAX_ANSWER: u64 = 1 << 20;

impl HttpEligibility {
    /// `base_url` like `http://127.0.0.1:8740` (no trailing slash needed).
    pub fn new(base_url: &str) -> Self {
        Self::with(base_url, Timeouts::default(), RetryPolicy::default())
    }

    pub fn with(base_url: &str, timeouts: Timeouts, retry: RetryPolicy) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeouts.connect))
            .timeout_global(Some(timeouts.total))
            .build();
        Self { base: base_url.trim_end_matches('/').to_owned(), agent: config.into(), retry }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /health`, one attempt (for `doctor`'s eligibility-link check).
    pub fn health(&self) -> Result<(), EligibilityError> {
        let (status, text) = self.attempt("GET", "/health", None)?;
        interpret::<serde_json::Value>(status, &text).map(|_| ())
    }

    /// One attempt: the status and the body text.
    fn attempt(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, String), EligibilityError> {
        let url = format!("{}{}", self.base, path);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            (_, Some(b)) => self.agent.post(&url).header("content-type", "application/json").send(b),
            (_, None) => self.agent.post(&url).send_empty(),
        };
        let mut response = result.map_err(transport_error)?;
        let status = response.status().as_u16();
        let text =
            response.body_mut().with_config().limit(MAX_ANSWER).read_to_string().map_err(transport_error)?;
        Ok((status, text))
    }

    /// One call with retries; the answer parsed as `T` on 2xx, as [`ErrorBody`] otherwise.
    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<T, EligibilityError> {
        let attempts = self.retry.attempts.max(1);
        let mut n = 0;
        loop {
            let outcome =
                self.attempt(method, path, body).and_then(|(status, text)| interpret(status, &text));
            match outcome {
                Err(e) if e.is_retryable() && n + 1 < attempts => {
                    std::thread::sleep(self.retry.backoff(n));
                    n += 1;
                }
                other => return other,
            }
        }
    }

    fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, EligibilityError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| EligibilityError::new(ErrorCode::BadRequest, format!("encoding request: {e}")))?;
        self.call("POST", path, Some(&bytes))
    }
}

fn transport_error(e: ureq::Error) -> EligibilityError {
    use std::io::ErrorKind;
    let code = match &e {
        ureq::Error::Timeout(_) => ErrorCode::ServiceTimeout,
        ureq::Error::Io(io) if matches!(io.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            ErrorCode::ServiceTimeout
        }
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::InvalidData | ErrorKind::ConnectionReset
            ) =>
        {
            // The peer was there but did not speak HTTP properly.
            if io.kind() == ErrorKind::ConnectionReset {
                ErrorCode::ServiceUnreachable
            } else {
                ErrorCode::BadResponse
            }
        }
        ureq::Error::Protocol(_) | ureq::Error::BodyExceedsLimit(_) => ErrorCode::BadResponse,
        _ => ErrorCode::ServiceUnreachable,
    };
    EligibilityError::new(code, e.to_string())
}

fn interpret<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, EligibilityError> {
    let snippet = || text.chars().take(80).collect::<String>();
    match status {
        200..=299 => serde_json::from_str(text).map_err(|e| {
            EligibilityError::new(ErrorCode::BadResponse, format!("HTTP {status}: {e}: {:?}", snippet()))
        }),
        500..=599 => {
            Err(EligibilityError::new(ErrorCode::ServiceError, format!("HTTP {status}: {:?}", snippet())))
        }
        _ => match serde_json::from_str::<ErrorBody>(text) {
            Ok(body) => Err(EligibilityError::new(body.code, body.message)),
            Err(_) => Err(EligibilityError::new(
                ErrorCode::BadResponse,
                format!("HTTP {status} without an error body: {:?}", snippet()),
            )),
        },
    }
}

impl EligibilityService for HttpEligibility {
    fn challenge(&self) -> Result<Challenge, EligibilityError> {
        let c: Challenge = self.call("POST", "/challenge", None)?;
        if c.bytes().is_none() {
            return Err(EligibilityError::new(ErrorCode::BadResponse, "challenge is not 32 hex bytes"));
        }
        Ok(c)
    }

    fn is_registered(&self, auth_cert: &[u8]) -> Result<bool, EligibilityError> {
        let path = format!("/registered?cert_sha256={}", cert_sha256(auth_cert));
        match self.call::<Registered>("GET", &path, None) {
            Ok(r) => Ok(r.registered),
            // Never seen by the service: ask with the certificate itself.
            Err(e) if e.code == ErrorCode::CertUnknown => {
                let r: Registered =
                    self.post_json("/registered", &RegisteredQuery { auth_cert: b64(auth_cert) })?;
                Ok(r.registered)
            }
            Err(e) => Err(e),
        }
    }

    fn check(&self, request: &EligibilityRequest) -> Result<EligibilityAnswer, EligibilityError> {
        self.post_json("/eligibility", request)
    }

    fn register(&self, request: &RegistrationRequest) -> Result<bool, EligibilityError> {
        let r: Registered = self.post_json("/registration", request)?;
        Ok(r.registered)
    }

    fn lookup_insured(&self, query: &InsuredQuery) -> Result<crate::model::Eligibility, EligibilityError> {
        self.post_json("/insured", query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
        };
        let got: Vec<u128> = (0..6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 700, 700, 700]);
        assert_eq!(p.backoff(1000), Duration::from_millis(700));
    }

    #[test]
    fn answers_are_classified() {
        let e = interpret::<Registered>(200, "<html>").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        let e = interpret::<Registered>(503, "busy").unwrap_err();
        assert_eq!(e.code, ErrorCode::ServiceError);
        let e = interpret::<Registered>(400, r#"{"code":616,"name":"challenge_replayed","message":"m"}"#)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::ChallengeReplayed);
        let e = interpret::<Registered>(404, "nope").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        assert_eq!(
            interpret::<Registered>(200, r#"{"registered":true}"#).unwrap(),
            Registered { registered: true }
        );
    }
}
