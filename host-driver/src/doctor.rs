//! `shikaku doctor`: the check sheet a clinic walks through when the reader "does not work",
//! in the order a person would: cable and reader, firmware, pairing, the reader's own camera
//! and NFC self-tests, the clock, the eligibility link, the receipt-computer folders, and the
//! PC/SC service. Each check says what it saw and what to do.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use shikaku_protocol::message::{Message, SelfTest};

use crate::config::Config;
use crate::keystore::KeyStore;
use crate::reader::{manager, Command, HostEvent, ManagerEvent};
use crate::smartcard::PcscService;
use crate::transport::Endpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do when it is not `Pass`.
    pub remedy: &'static str,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { name: name.into(), status: Status::Pass, detail: detail.into(), remedy: "" }
    }
    fn fail(name: impl Into<String>, detail: impl Into<String>, remedy: &'static str) -> Self {
        Self { name: name.into(), status: Status::Fail, detail: detail.into(), remedy }
    }
    fn warn(name: impl Into<String>, detail: impl Into<String>, remedy: &'static str) -> Self {
        Self { name: name.into(), status: Status::Warn, detail: detail.into(), remedy }
    }
}

pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| c.status == Status::Fail).count()
    }

    pub fn print(&self) {
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            println!("[{mark}] {}: {}", c.name, c.detail);
            if c.status != Status::Pass {
                println!("       → {}", c.remedy);
            }
        }
        let f = self.failed();
        println!(
            "{}",
            if f == 0 {
                "doctor: all checks passed".to_owned()
            } else {
                format!("doctor: {f} check(s) failed")
            }
        );
    }
}

/// Runs every check. `timeout` bounds each reader's part.
pub fn run(config: &Config, timeout: Duration) -> Report {
    let mut checks = Vec::new();
    for endpoint in &config.readers {
        reader_checks(config, endpoint, timeout, &mut checks);
    }
    checks.push(eligibility(config));
    checks.push(folders(config));
    checks.push(waiting_requests(config));
    checks.push(pcsc());
    Report { checks }
}

fn reader_checks(config: &Config, endpoint: &Endpoint, timeout: Duration, checks: &mut Vec<Check>) {
    let name = |what: &str| format!("{what} ({endpoint})");
    let (tx, rx) = mpsc::channel();
    let probe = manager::spawn(endpoint.clone(), None, Vec::new(), tx);
    let deadline = Instant::now() + timeout;
    let mut last_error = String::from("no answer");
    let mut info = None;
    while Instant::now() < deadline && info.is_none() {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(ManagerEvent::Link {
                event: HostEvent::NeedsPairing(i) | HostEvent::Secured(i) | HostEvent::KeyMismatch(i),
                ..
            }) => info = Some(i),
            Ok(ManagerEvent::Disconnected { reason, .. }) => last_error = reason,
            _ => {}
        }
    }
    drop(probe);
    let Some(info) = info else {
        checks.push(Check::fail(
            name("reader connection"),
            last_error,
            "check the USB cable and the reader's power; reconnect it; for a serial reader check the port name",
        ));
        return;
    };
    checks.push(Check::pass(name("reader connection"), format!("{} {}", info.model, info.serial)));
    checks.push(Check::pass(name("firmware"), info.firmware.clone()));

    let key = match KeyStore::new(&config.key_dir).load(&info.serial) {
        Ok(Some(k)) => k,
        Ok(None) => {
            checks.push(Check::fail(
                name("pairing"),
                format!("{} is not paired with this PC", info.serial),
                "run `shikaku pair` with the reader in pairing mode and compare the 6-digit code",
            ));
            return;
        }
        Err(e) => {
            checks.push(Check::fail(name("pairing"), e.to_string(), "re-pair the reader (`shikaku pair`)"));
            return;
        }
    };
    let (tx, rx) = mpsc::channel();
    let link = manager::spawn(endpoint.clone(), Some(key), Vec::new(), tx);
    let deadline = Instant::now() + timeout;
    let mut secured = false;
    let mut rejected = None;
    let mut report = None;
    while Instant::now() < deadline && report.is_none() {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(ManagerEvent::Link { event: HostEvent::Secured(_), .. }) => {
                secured = true;
                link.send(Command::Diagnostics);
            }
            Ok(ManagerEvent::Link { event: HostEvent::Rejected(e), .. }) => rejected = Some(e.to_string()),
            Ok(ManagerEvent::Link { event: HostEvent::KeyMismatch(_), .. }) => {
                rejected = Some("the reader holds another pairing key".into());
                break;
            }
            Ok(ManagerEvent::Link { event: HostEvent::Status(m) | HostEvent::Result(m), .. }) => {
                if let Ok(Message::DiagnosticsReport { nfc, camera, clock_ms, uptime_s, .. }) = m.message() {
                    report = Some((nfc, camera, clock_ms, uptime_s, crate::os::unix_ms()));
                }
            }
            _ => {}
        }
    }
    drop(link);
    // Secured means the reader proved the key in its hello and opened our sealed `LinkReady`;
    // frames refused before that (line noise or the tail of an earlier connection on a serial
    // line) say nothing against the pairing.
    match (secured, rejected, report) {
        (true, _, _) => {
            checks.push(Check::pass(name("pairing"), "authenticated, encrypted link"));
        }
        (false, Some(e), _) => {
            checks.push(Check::fail(
                name("pairing"),
                format!("the reader's frames do not verify: {e}"),
                "the stored key does not match the reader: re-pair it (`shikaku pair`)",
            ));
            return;
        }
        (false, None, _) => {
            checks.push(Check::fail(
                name("pairing"),
                "no authenticated link",
                "re-pair the reader (`shikaku pair`)",
            ));
            return;
        }
    }
    let Some((nfc, camera, clock_ms, uptime_s, host_ms)) = report else {
        checks.push(Check::fail(
            name("self-test"),
            "the reader did not answer the diagnostics request",
            "restart the reader; if it persists, note the firmware version and contact the vendor",
        ));
        return;
    };
    checks.extend(self_test_checks(&name, nfc, camera, uptime_s, clock_ms, host_ms, config.max_clock_skew_s));
}

/// What a reader's self-test report says, as checks: each self-test, and its clock against
/// this PC's (`host_ms`), within `max_skew_s`.
fn self_test_checks(
    name: &dyn Fn(&str) -> String,
    nfc: SelfTest,
    camera: SelfTest,
    uptime_s: u32,
    clock_ms: u64,
    host_ms: u64,
    max_skew_s: u64,
) -> Vec<Check> {
    let mut checks = Vec::new();
    for (what, result, remedy) in [
        (
            "NFC self-test",
            nfc,
            "the card antenna or NFC chip failed its test: restart the reader, then contact the vendor",
        ),
        (
            "camera self-test",
            camera,
            "the camera failed its test: check nothing covers it, restart, then contact the vendor",
        ),
    ] {
        checks.push(match result {
            SelfTest::Passed => Check::pass(name(what), format!("passed (uptime {uptime_s} s)")),
            SelfTest::NotRun => {
                Check::warn(name(what), "not run", "restart the reader to run its self-tests")
            }
            SelfTest::Failed => Check::fail(name(what), "failed", remedy),
        });
    }
    let skew_s = (clock_ms as i64 - host_ms as i64).abs() / 1000;
    checks.push(if clock_ms == 0 {
        Check::fail(
            name("clock"),
            "the reader has no time yet",
            "reconnect the reader; the driver sets its clock",
        )
    } else if skew_s as u64 > max_skew_s {
        Check::fail(
            name("clock"),
            format!("reader and PC differ by {skew_s} s"),
            "set this PC's clock (NTP); the driver then sets the reader's clock when it connects",
        )
    } else {
        Check::pass(name("clock"), format!("within {skew_s} s of this PC"))
    });
    checks
}

fn eligibility(config: &Config) -> Check {
    let url = format!("{}/health", config.eligibility_url.trim_end_matches('/'));
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(3))).build().into();
    match agent.get(&url).call() {
        Ok(_) => Check::pass("eligibility service", config.eligibility_url.clone()),
        Err(e) => Check::fail(
            "eligibility service",
            format!("{}: {e}", config.eligibility_url),
            "check the network line to the eligibility system (オンライン資格確認) and the configured URL; \
             receptions are queued meanwhile",
        ),
    }
}

fn folders(config: &Config) -> Check {
    let f = &config.folders;
    for (what, dir) in [("face", &f.face), ("req", &f.req), ("res", &f.res)] {
        let probe = dir.join(".shikaku-doctor-probe");
        let ok = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(&probe, b"probe"))
            .and_then(|_| std::fs::remove_file(&probe));
        if let Err(e) = ok {
            return Check::fail(
                "receipt-computer folders",
                format!("{what} folder {}: {e}", dir.display()),
                "fix the folder path in the configuration or its permissions (the receipt computer must share it)",
            );
        }
    }
    Check::pass(
        "receipt-computer folders",
        format!("{} writable", f.face.parent().unwrap_or(&f.face).display()),
    )
}

/// Requests from the receipt computer waiting for the eligibility service, with the reason.
fn waiting_requests(config: &Config) -> Check {
    const NAME: &str = "receipt-computer requests";
    let waiting = match crate::journal::Journal::open(&config.journal).and_then(|j| j.waiting_requests()) {
        Ok(w) => w,
        Err(e) => {
            return Check::warn(NAME, format!("journal: {e}"), "check the journal path in the configuration")
        }
    };
    judge_waiting(&waiting)
}

fn judge_waiting(waiting: &[crate::journal::WaitingRequest]) -> Check {
    const NAME: &str = "receipt-computer requests";
    match waiting {
        [] => Check::pass(NAME, "none waiting"),
        [first, ..] => Check::fail(
            NAME,
            format!(
                "{} waiting for the eligibility service (oldest {}: {} attempts, {})",
                waiting.len(),
                first.file,
                first.attempts,
                first.reason
            ),
            "restore the line to the eligibility system; the requests are answered as soon as it answers \
             (the receipt computer keeps waiting meanwhile)",
        ),
    }
}

fn pcsc() -> Check {
    match PcscService::new().readers() {
        Ok(rs) => Check::pass("PC/SC service", format!("{} reader(s)", rs.len())),
        Err(e) => Check::fail(
            "PC/SC service",
            e.to_string(),
            "start the smart-card service (pcscd / Windows Smart Card service) for smartphone and generic readers",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(nfc: SelfTest, camera: SelfTest, clock_ms: u64, host_ms: u64) -> Vec<Check> {
        self_test_checks(&|w: &str| w.to_string(), nfc, camera, 60, clock_ms, host_ms, 60)
    }

    fn status_of<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.name == name).expect("a check of that name")
    }

    #[test]
    fn a_failed_nfc_self_test_fails_with_the_antenna_remedy() {
        let c = judge(SelfTest::Failed, SelfTest::Passed, 1_000_000, 1_000_000);
        let nfc = status_of(&c, "NFC self-test");
        assert_eq!(nfc.status, Status::Fail);
        assert!(nfc.remedy.contains("antenna"));
        assert_eq!(status_of(&c, "camera self-test").status, Status::Pass);
    }

    #[test]
    fn requests_waiting_for_the_service_fail_with_their_reason() {
        assert_eq!(judge_waiting(&[]).status, Status::Pass);
        let w = crate::journal::WaitingRequest {
            file: "OQSsiquc01req_7.xml".into(),
            identifier: Some("c7".into()),
            since_ms: 0,
            attempts: 3,
            last_code: 601,
            reason: "資格確認システムに接続できません".into(),
        };
        let c = judge_waiting(&[w]);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("OQSsiquc01req_7.xml") && c.detail.contains("3 attempts"), "{}", c.detail);
    }

    #[test]
    fn a_camera_not_run_is_a_warning_not_a_failure() {
        let c = judge(SelfTest::Passed, SelfTest::NotRun, 1_000_000, 1_000_000);
        assert_eq!(status_of(&c, "camera self-test").status, Status::Warn);
    }

    #[test]
    fn a_reader_clock_off_by_more_than_the_limit_fails_and_within_it_passes() {
        let host = 1_800_000_000_000;
        let c = judge(SelfTest::Passed, SelfTest::Passed, host + 600_000, host);
        let clock = status_of(&c, "clock");
        assert_eq!(clock.status, Status::Fail);
        assert!(clock.detail.contains("600 s"), "{}", clock.detail);
        let c = judge(SelfTest::Passed, SelfTest::Passed, host - 59_000, host);
        assert_eq!(status_of(&c, "clock").status, Status::Pass);
    }

    #[test]
    fn a_reader_without_time_fails_with_reconnect() {
        let c = judge(SelfTest::Passed, SelfTest::Passed, 0, 1_800_000_000_000);
        assert!(status_of(&c, "clock").remedy.contains("reconnect"));
    }
}
