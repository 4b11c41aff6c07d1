//! A face engine stand-in that replays recorded outcomes, until the real engine lands.

use std::collections::VecDeque;

use shikaku_firmware::session::{FaceReply, FaceVerifier};
use shikaku_protocol::message::FaceDecision;

/// Answers each attempt with the next recorded [`FaceReply`]; when they run out, `NoFace`.
#[derive(Debug, Default)]
pub struct ReplayFace {
    replies: VecDeque<FaceReply>,
    /// Attempt numbers asked for, in order.
    pub attempts: Vec<u8>,
    /// How often the core asked for every image to be wiped.
    pub wipes: u32,
}

impl ReplayFace {
    pub fn new(replies: impl IntoIterator<Item = FaceReply>) -> Self {
        Self { replies: replies.into_iter().collect(), attempts: Vec::new(), wipes: 0 }
    }

    /// A match with this similarity (thousandths).
    pub fn matched(score_milli: u16) -> FaceReply {
        FaceReply { decision: FaceDecision::Match, score_milli }
    }

    /// No match with this similarity (thousandths).
    pub fn no_match(score_milli: u16) -> FaceReply {
        FaceReply { decision: FaceDecision::NoMatch, score_milli }
    }
}

impl FaceVerifier for ReplayFace {
    fn verify(&mut self, attempt: u8) -> FaceReply {
        self.attempts.push(attempt);
        self.replies.pop_front().unwrap_or(FaceReply { decision: FaceDecision::NoFace, score_milli: 0 })
    }

    fn wipe(&mut self) {
        self.wipes += 1;
    }
}
