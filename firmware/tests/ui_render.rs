//! The device renderer: every screen draws on a 480×320 Rgb565 display, every Japanese
//! character the screens use has a glyph, and entry screens show dots, never digits.

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use shikaku_firmware::session::{ConsentItem, Screen};
use shikaku_firmware::ui;

struct FrameBuf {
    px: Vec<Rgb565>,
}

impl FrameBuf {
    const W: u32 = 480;
    const H: u32 = 320;
    fn new() -> Self {
        Self { px: vec![Rgb565::BLACK; (Self::W * Self::H) as usize] }
    }
    fn inked(&self) -> usize {
        self.px.iter().filter(|p| **p != Rgb565::WHITE).count()
    }
    /// PPM, for looking at a screen (`SHIKAKU_UI_DUMP=dir`).
    fn ppm(&self) -> Vec<u8> {
        let mut out = format!("P6 {} {} 255\n", Self::W, Self::H).into_bytes();
        for p in &self.px {
            out.extend([p.r() << 3, p.g() << 2, p.b() << 3]);
        }
        out
    }
}

impl OriginDimensions for FrameBuf {
    fn size(&self) -> Size {
        Size::new(Self::W, Self::H)
    }
}

impl DrawTarget for FrameBuf {
    type Color = Rgb565;
    type Error = core::convert::Infallible;
    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb565>>>(&mut self, pixels: I) -> Result<(), Self::Error> {
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && (p.x as u32) < Self::W && (p.y as u32) < Self::H {
                self.px[(p.y as u32 * Self::W + p.x as u32) as usize] = c;
            }
        }
        Ok(())
    }
}

/// Forces every variant into the examples: adding a screen without an example fails to compile
/// here or fails the count below.
fn variant(s: &Screen) -> usize {
    match s {
        Screen::PlaceCard => 0,
        Screen::Reading => 1,
        Screen::CertExpiringSoon { .. } => 2,
        Screen::CertExpiredGrace { .. } => 3,
        Screen::CertExpiredRefused { .. } => 4,
        Screen::ChooseMethod { .. } => 5,
        Screen::PinEntry { .. } => 6,
        Screen::PinConfirmLastTry => 7,
        Screen::PinWrong { .. } => 8,
        Screen::PinLocked { .. } => 9,
        Screen::ConfirmOnPhone => 10,
        Screen::FaceInProgress { .. } => 11,
        Screen::FaceRetry { .. } => 12,
        Screen::FaceFailed { .. } => 13,
        Screen::PasscodeEntry { .. } => 14,
        Screen::PasscodeBackoff { .. } => 15,
        Screen::PasscodeLocked => 16,
        Screen::VisualPlaceCard => 17,
        Screen::VisualCheck => 18,
        Screen::ConsentIntro => 19,
        Screen::Consent { .. } => 20,
        Screen::RegistrationOffer => 21,
        Screen::WaitingForHost => 22,
        Screen::Done { .. } => 23,
        Screen::Error { .. } => 24,
        Screen::RemoveCard => 25,
        Screen::PairingPasscode { .. } => 26,
        Screen::PairingOpen => 27,
        Screen::PairingCode { .. } => 28,
        Screen::PairingDone => 29,
        Screen::ResultsPending => 30,
    }
}

#[test]
fn the_examples_cover_every_screen() {
    let mut seen: Vec<usize> = Screen::examples().iter().map(variant).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, (0..31).collect::<Vec<_>>());
}

#[test]
fn every_japanese_character_on_every_screen_has_a_glyph() {
    let mut texts: Vec<String> = Vec::new();
    for s in Screen::examples() {
        let (t, b) = s.ja();
        texts.push(t.into());
        texts.push(b.into());
        texts.extend(s.buttons().iter().map(|b| b.ja.to_string()));
        if let Some(d) = s.detail() {
            texts.push(ui::detail_text(d).as_str().into());
        }
    }
    texts.extend(ConsentItem::ALL.iter().map(|i| i.ja().to_string()));
    for t in &texts {
        for c in t.chars().filter(|c| !c.is_ascii()) {
            assert!(ui::glyph(c).is_some(), "no glyph for {c:?} in {t:?}");
        }
    }
    // The table is sorted (binary search) and every glyph has ink.
    let g = &ui::glyphs::GLYPHS;
    assert!(g.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(g.iter().all(|(c, bits)| *c == ' ' || bits.iter().any(|b| *b != 0)), "empty glyph");
}

#[test]
fn every_screen_draws_header_text_and_buttons() {
    let dump = std::env::var_os("SHIKAKU_UI_DUMP");
    for (i, s) in Screen::examples().iter().enumerate() {
        let mut fb = FrameBuf::new();
        ui::draw(s, &mut fb).unwrap();
        assert!(fb.inked() > 480 * 40, "{s:?}: a header and text are drawn");
        // Body text sits on white below the header: some ink there too.
        let body_ink = (70..200).flat_map(|y| (0..480).map(move |x| (x, y))).filter(|&(x, y)| {
            let p = fb.px[(y * 480 + x) as usize];
            p != Rgb565::WHITE
        });
        if !s.ja().1.is_empty() {
            assert!(body_ink.count() > 100, "{s:?}: body text drawn");
        }
        // Buttons: their colour fills the bottom band when the screen has any.
        let bottom = fb.px[(300 * 480 + 60) as usize];
        assert_eq!(bottom != Rgb565::WHITE, !s.buttons().is_empty(), "{s:?}: buttons");
        if let Some(dir) = &dump {
            std::fs::write(std::path::Path::new(dir).join(format!("{i:02}.ppm")), fb.ppm()).unwrap();
        }
    }
}

#[test]
fn pin_entry_shows_one_dot_per_digit_and_no_digit() {
    for entered in 0..=4u8 {
        let s = Screen::PinEntry { entered, tries_left: 3 };
        let text = ui::detail_text(s.detail().unwrap());
        assert_eq!(text.chars().filter(|c| *c == '●').count(), entered as usize);
        assert_eq!(text.chars().filter(|c| *c == '○').count(), 4 - entered as usize);
        assert!(text.ends_with("tries left: 3"));
    }
    let mut a = FrameBuf::new();
    let mut b = FrameBuf::new();
    ui::draw(&Screen::PinEntry { entered: 1, tries_left: 3 }, &mut a).unwrap();
    ui::draw(&Screen::PinEntry { entered: 3, tries_left: 3 }, &mut b).unwrap();
    assert!(b.inked() > a.inked(), "more dots filled, more ink");
}
