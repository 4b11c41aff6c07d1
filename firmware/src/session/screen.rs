//! Screens as data: an id with its parameters, texts in Japanese first and English second.
//! The device renders them with `embedded-graphics`, the simulator to PNG; tests compare them.

use shikaku_protocol::message::{AuthMethod, ErrorCode, Remedy};

/// Which consent question is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConsentItem {
    /// 薬剤情報
    Medication,
    /// 特定健診情報
    HealthCheckup,
    /// 診療情報
    Treatment,
    /// 手術情報
    Surgery,
}

impl ConsentItem {
    pub const ALL: [ConsentItem; 4] =
        [ConsentItem::Medication, ConsentItem::HealthCheckup, ConsentItem::Treatment, ConsentItem::Surgery];
    pub fn ja(self) -> &'static str {
        match self {
            ConsentItem::Medication => "薬剤情報",
            ConsentItem::HealthCheckup => "特定健診情報",
            ConsentItem::Treatment => "診療情報",
            ConsentItem::Surgery => "手術情報",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            ConsentItem::Medication => "medication records",
            ConsentItem::HealthCheckup => "health check-up results",
            ConsentItem::Treatment => "treatment records",
            ConsentItem::Surgery => "surgery records",
        }
    }
}

/// Everything the reader can show. Parameters carry no PIN, passcode digits or names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Screen {
    /// Automatic mode: waiting for a card.
    PlaceCard,
    Reading,
    /// The certificate ends within 3 months: continue, renew soon.
    CertExpiringSoon {
        days_left: u16,
    },
    /// Expired, within 3 months: eligibility only, no medical-information sharing.
    CertExpiredGrace {
        days_past: u16,
    },
    /// Expired past the grace period: use the 資格確認書, renew at the municipal office.
    CertExpiredRefused {
        days_past: u16,
    },
    ChooseMethod {
        face: bool,
        pin: bool,
    },
    /// `entered` dots, never the digits.
    PinEntry {
        entered: u8,
        tries_left: u8,
    },
    PinConfirmLastTry,
    PinWrong {
        tries_left: u8,
    },
    /// Locked: remedy at the municipal office; face or staff (目視) now, card stays.
    PinLocked {
        face: bool,
    },
    /// Android: type the phone's PIN on the reader; iPhone: confirm on the phone.
    ConfirmOnPhone,
    FaceInProgress {
        attempt: u8,
        max: u8,
    },
    FaceRetry {
        attempt: u8,
        max: u8,
    },
    /// The cap was reached: PIN or staff help.
    FaceFailed {
        pin: bool,
    },
    PasscodeEntry {
        entered: u8,
    },
    PasscodeBackoff {
        wait_s: u16,
    },
    PasscodeLocked,
    /// 目視 unlocked: staff check the photo, then the patient places the card.
    VisualPlaceCard,
    /// Staff compare the card photo with the patient and confirm.
    VisualCheck,
    /// 包括同意 (Yes), one by one (No), or skip.
    ConsentIntro,
    Consent {
        item: ConsentItem,
        index: u8,
    },
    /// 初回登録: register this card for insurance use?
    RegistrationOffer,
    WaitingForHost,
    Done {
        method: AuthMethod,
        renewal_needed: bool,
    },
    Error {
        code: ErrorCode,
        remedy: Remedy,
    },
    RemoveCard,
    /// Staff asked to pair (Staff key twice): the passcode that opens pairing mode.
    PairingPasscode {
        entered: u8,
    },
    /// Pairing mode is open: start pairing on the reception PC.
    PairingOpen,
    /// The 6-digit code of a confirmed key exchange: Yes if the PC shows the same.
    PairingCode {
        code: u32,
    },
    PairingDone,
    /// Results the host has not acknowledged fill the reader: no new reception until they go.
    ResultsPending,
}

impl Screen {
    /// A number per kind of screen (parameters aside), stable in this build: for a panel
    /// that reports what is shown without the texts.
    pub fn kind(&self) -> u8 {
        match self {
            Screen::PlaceCard => 1,
            Screen::Reading => 2,
            Screen::CertExpiringSoon { .. } => 3,
            Screen::CertExpiredGrace { .. } => 4,
            Screen::CertExpiredRefused { .. } => 5,
            Screen::ChooseMethod { .. } => 6,
            Screen::PinEntry { .. } => 7,
            Screen::PinConfirmLastTry => 8,
            Screen::PinWrong { .. } => 9,
            Screen::PinLocked { .. } => 10,
            Screen::ConfirmOnPhone => 11,
            Screen::FaceInProgress { .. } => 12,
            Screen::FaceRetry { .. } => 13,
            Screen::FaceFailed { .. } => 14,
            Screen::PasscodeEntry { .. } => 15,
            Screen::PasscodeBackoff { .. } => 16,
            Screen::PasscodeLocked => 17,
            Screen::VisualPlaceCard => 18,
            Screen::VisualCheck => 19,
            Screen::ConsentIntro => 20,
            Screen::Consent { .. } => 21,
            Screen::RegistrationOffer => 22,
            Screen::WaitingForHost => 23,
            Screen::Done { .. } => 24,
            Screen::Error { .. } => 25,
            Screen::RemoveCard => 26,
            Screen::PairingPasscode { .. } => 27,
            Screen::PairingOpen => 28,
            Screen::PairingCode { .. } => 29,
            Screen::PairingDone => 30,
            Screen::ResultsPending => 31,
        }
    }

    /// Title and body in Japanese.
    pub fn ja(&self) -> (&'static str, &'static str) {
        match self {
            Screen::PlaceCard => ("マイナ保険証をおいてください", "カードリーダーにカードをおいてください"),
            Screen::Reading => ("読み取り中", "カードを動かさないでください"),
            Screen::CertExpiringSoon { .. } => {
                ("電子証明書の有効期限が近づいています", "お住まいの市区町村で更新してください")
            }
            Screen::CertExpiredGrace { .. } => (
                "電子証明書の有効期限が切れています",
                "資格確認のみ行います(期限後3か月まで)。市区町村で更新してください",
            ),
            Screen::CertExpiredRefused { .. } => (
                "電子証明書の有効期限が切れています",
                "このカードでは確認できません。資格確認書をご提示いただくか、市区町村で更新してください",
            ),
            Screen::ChooseMethod { .. } => ("本人確認の方法を選んでください", "顔認証 / 暗証番号"),
            Screen::PinEntry { .. } => {
                ("暗証番号(4桁)を入力してください", "利用者証明用電子証明書の暗証番号")
            }
            Screen::PinConfirmLastTry => (
                "残り1回です",
                "間違えるとロックされます。入力しますか?(はい/いいえ: 顔認証・職員による確認へ)",
            ),
            Screen::PinWrong { .. } => ("暗証番号が違います", "もう一度入力してください"),
            Screen::PinLocked { .. } => (
                "暗証番号がロックされています",
                "市区町村の窓口で解除してください。今回は顔認証または職員による目視確認で受付できます",
            ),
            Screen::ConfirmOnPhone => {
                ("スマートフォンで操作してください", "画面の案内に従って本人確認をしてください")
            }
            Screen::FaceInProgress { .. } => ("顔認証中", "カメラを見てください"),
            Screen::FaceRetry { .. } => ("顔認証できませんでした", "もう一度カメラを見てください"),
            Screen::FaceFailed { .. } => {
                ("顔認証できませんでした", "暗証番号で確認するか、職員をお呼びください")
            }
            Screen::PasscodeEntry { .. } => ("目視モード", "職員用パスコード(4桁)を入力してください"),
            Screen::PasscodeBackoff { .. } => ("パスコードが違います", "しばらく待ってから入力してください"),
            Screen::PasscodeLocked => ("目視モードはロックされています", "管理者に連絡してください"),
            Screen::VisualPlaceCard => ("目視モード", "患者さまにカードをおいていただいてください"),
            Screen::VisualCheck => ("目視確認", "カードの顔写真とご本人を確認し、確認ボタンを押してください"),
            Screen::ConsentIntro => ("情報提供への同意", "まとめて同意する / 個別に選ぶ / 同意しない"),
            Screen::Consent { .. } => ("情報提供への同意", "この情報を医療機関に提供しますか"),
            Screen::RegistrationOffer => {
                ("健康保険証利用の申込", "このカードを健康保険証として利用登録しますか")
            }
            Screen::WaitingForHost => ("お待ちください", "受付端末と通信しています"),
            Screen::Done { .. } => ("受付が完了しました", "カードをお取りください"),
            Screen::Error { .. } => ("確認できませんでした", "職員にお声がけください"),
            Screen::RemoveCard => ("カードをお取りください", ""),
            Screen::PairingPasscode { .. } => ("ペアリング", "職員用パスコード(4桁)を入力してください"),
            Screen::PairingOpen => ("ペアリング待ち", "受付端末でペアリングを開始してください"),
            Screen::PairingCode { .. } => {
                ("ペアリング確認", "受付端末と同じ番号なら「はい」を押してください")
            }
            Screen::PairingDone => ("ペアリングしました", "受付端末と接続します"),
            Screen::ResultsPending => {
                ("受付結果を送信できていません", "受付端末との接続を確認してください。職員にお声がけください")
            }
        }
    }

    /// Title and body in English.
    pub fn en(&self) -> (&'static str, &'static str) {
        match self {
            Screen::PlaceCard => ("Place your My Number card", "Put the card on the reader"),
            Screen::Reading => ("Reading", "Do not move the card"),
            Screen::CertExpiringSoon { .. } => ("Certificate expires soon", "Renew it at your municipal office"),
            Screen::CertExpiredGrace { .. } => (
                "Certificate expired",
                "Eligibility check only (within 3 months); renew at your municipal office",
            ),
            Screen::CertExpiredRefused { .. } => (
                "Certificate expired",
                "This card cannot be used: show your eligibility certificate or renew at the municipal office",
            ),
            Screen::ChooseMethod { .. } => ("Choose how to confirm", "Face / PIN"),
            Screen::PinEntry { .. } => ("Enter your 4-digit PIN", "User certificate PIN"),
            Screen::PinConfirmLastTry => ("One try left", "A wrong PIN locks the card. Enter it? (No: face or staff)"),
            Screen::PinWrong { .. } => ("Wrong PIN", "Please try again"),
            Screen::PinLocked { .. } => (
                "PIN locked",
                "Unlock it at your municipal office. Today: face or a staff visual check",
            ),
            Screen::ConfirmOnPhone => ("Continue on your phone", "Follow the phone's instructions"),
            Screen::FaceInProgress { .. } => ("Face check", "Look at the camera"),
            Screen::FaceRetry { .. } => ("Face not matched", "Look at the camera again"),
            Screen::FaceFailed { .. } => ("Face not matched", "Use your PIN or ask staff"),
            Screen::PasscodeEntry { .. } => ("Visual check mode", "Staff: enter your 4-digit passcode"),
            Screen::PasscodeBackoff { .. } => ("Wrong passcode", "Wait before trying again"),
            Screen::PasscodeLocked => ("Visual check mode locked", "Contact the administrator"),
            Screen::VisualPlaceCard => ("Visual check mode", "Ask the patient to place the card"),
            Screen::VisualCheck => ("Visual check", "Compare the card photo with the patient, then confirm"),
            Screen::ConsentIntro => ("Consent to share", "Agree to all / choose one by one / decline"),
            Screen::Consent { .. } => ("Consent to share", "Share this information with the clinic?"),
            Screen::RegistrationOffer => ("Register for insurance use", "Register this card as your health insurance card?"),
            Screen::WaitingForHost => ("Please wait", "Talking to the reception PC"),
            Screen::Done { .. } => ("Reception complete", "Please take your card"),
            Screen::Error { .. } => ("Could not confirm", "Please ask staff"),
            Screen::RemoveCard => ("Please take your card", ""),
            Screen::PairingPasscode { .. } => ("Pairing", "Staff: enter your 4-digit passcode"),
            Screen::PairingOpen => ("Pairing mode", "Start pairing on the reception PC"),
            Screen::PairingCode { .. } => ("Confirm pairing", "Press Yes if the reception PC shows this number"),
            Screen::PairingDone => ("Paired", "Connecting to the reception PC"),
            Screen::ResultsPending => ("Results not yet sent", "Check the reception PC's connection; ask staff"),
        }
    }

    /// The parameter line shown under the body, if any (numbers only, never secrets).
    pub fn detail(&self) -> Option<DetailLine> {
        Some(match *self {
            Screen::CertExpiringSoon { days_left } => DetailLine::DaysLeft(days_left),
            Screen::CertExpiredGrace { days_past } | Screen::CertExpiredRefused { days_past } => {
                DetailLine::DaysPast(days_past)
            }
            Screen::PinEntry { entered, tries_left } => DetailLine::Dots { entered, of: 4, tries_left },
            Screen::PinWrong { tries_left } => DetailLine::TriesLeft(tries_left),
            Screen::FaceInProgress { attempt, max } | Screen::FaceRetry { attempt, max } => {
                DetailLine::Attempt { attempt, max }
            }
            Screen::PasscodeEntry { entered } | Screen::PairingPasscode { entered } => {
                DetailLine::Dots { entered, of: 4, tries_left: 0 }
            }
            Screen::PairingCode { code } => DetailLine::Code(code),
            Screen::PasscodeBackoff { wait_s } => DetailLine::WaitSeconds(wait_s),
            Screen::Consent { item, index } => DetailLine::Consent { item, index },
            Screen::Error { code, remedy } => DetailLine::Error { code, remedy },
            _ => return None,
        })
    }
}

/// A touch button: Japanese label, English label, and the key it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Button {
    pub ja: &'static str,
    pub en: &'static str,
    pub key: super::Key,
}

const fn button(ja: &'static str, en: &'static str, key: super::Key) -> Button {
    Button { ja, en, key }
}

impl Screen {
    /// The buttons the screen offers, left to right.
    pub fn buttons(&self) -> heapless::Vec<Button, 3> {
        use super::Key;
        let staff = button("職員を呼ぶ", "Staff", Key::Staff);
        let face = button("顔認証", "Face", Key::ChooseFace);
        let pin = button("暗証番号", "PIN", Key::ChoosePin);
        let mut b = heapless::Vec::new();
        let list: &[Option<Button>] = match *self {
            Screen::ChooseMethod { face: f, pin: p } => &[f.then_some(face), p.then_some(pin), Some(staff)],
            Screen::PinLocked { face: f } => &[f.then_some(face), Some(staff)],
            Screen::FaceFailed { pin: p } => &[p.then_some(pin), Some(staff)],
            Screen::PinConfirmLastTry | Screen::RegistrationOffer | Screen::PairingCode { .. } => {
                &[Some(button("はい", "Yes", Key::Yes)), Some(button("いいえ", "No", Key::No))]
            }
            Screen::ConsentIntro => &[
                Some(button("まとめて同意", "Agree all", Key::Yes)),
                Some(button("個別に選ぶ", "One by one", Key::No)),
                Some(button("同意しない", "Skip", Key::Skip)),
            ],
            Screen::Consent { .. } => {
                &[Some(button("同意する", "Agree", Key::Yes)), Some(button("同意しない", "Decline", Key::No))]
            }
            Screen::VisualCheck => &[
                Some(button("確認しました", "Confirmed", Key::Yes)),
                Some(button("中止", "Cancel", Key::No)),
            ],
            Screen::CertExpiringSoon { .. } | Screen::CertExpiredGrace { .. } => {
                &[Some(button("次へ", "Continue", Key::Enter))]
            }
            _ => &[],
        };
        for x in list.iter().flatten() {
            // At most three per screen: the list above never has more.
            let _ = b.push(*x);
        }
        b
    }

    /// One example of every screen, for renderers, glyph tables and their tests.
    pub fn examples() -> [Screen; 34] {
        use shikaku_protocol::message::{AuthMethod, ErrorCode};
        let code = ErrorCode::CARD_REMOVED;
        [
            Screen::PlaceCard,
            Screen::Reading,
            Screen::CertExpiringSoon { days_left: 71 },
            Screen::CertExpiredGrace { days_past: 30 },
            Screen::CertExpiredRefused { days_past: 200 },
            Screen::ChooseMethod { face: true, pin: true },
            Screen::PinEntry { entered: 2, tries_left: 3 },
            Screen::PinConfirmLastTry,
            Screen::PinWrong { tries_left: 2 },
            Screen::PinLocked { face: true },
            Screen::ConfirmOnPhone,
            Screen::FaceInProgress { attempt: 1, max: 3 },
            Screen::FaceRetry { attempt: 1, max: 3 },
            Screen::FaceFailed { pin: true },
            Screen::PasscodeEntry { entered: 3 },
            Screen::PasscodeBackoff { wait_s: 5 },
            Screen::PasscodeLocked,
            Screen::VisualPlaceCard,
            Screen::VisualCheck,
            Screen::ConsentIntro,
            Screen::Consent { item: ConsentItem::Medication, index: 0 },
            Screen::Consent { item: ConsentItem::HealthCheckup, index: 1 },
            Screen::Consent { item: ConsentItem::Treatment, index: 2 },
            Screen::Consent { item: ConsentItem::Surgery, index: 3 },
            Screen::RegistrationOffer,
            Screen::WaitingForHost,
            Screen::Done { method: AuthMethod::Pin, renewal_needed: true },
            Screen::Error { code, remedy: code.remedy() },
            Screen::RemoveCard,
            Screen::PairingPasscode { entered: 1 },
            Screen::PairingOpen,
            Screen::PairingCode { code: 42_917 },
            Screen::PairingDone,
            Screen::ResultsPending,
        ]
    }
}

/// The variable part of a screen, for renderers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DetailLine {
    DaysLeft(u16),
    DaysPast(u16),
    /// `entered` of `of` positions filled (●), plus tries left when non-zero.
    Dots {
        entered: u8,
        of: u8,
        tries_left: u8,
    },
    TriesLeft(u8),
    Attempt {
        attempt: u8,
        max: u8,
    },
    WaitSeconds(u16),
    /// A pairing code: six digits, leading zeros shown.
    Code(u32),
    Consent {
        item: ConsentItem,
        index: u8,
    },
    Error {
        code: ErrorCode,
        remedy: Remedy,
    },
}
