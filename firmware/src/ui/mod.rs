//! Draws a [`Screen`] on the reader's display with `embedded-graphics`: Japanese first (16 px
//! glyphs from [`glyphs`], titles doubled), English second (a built-in mono font), the detail
//! line (dots for PIN / passcode entry, never digits), and the touch buttons along the bottom.
//! Any display that implements `DrawTarget<Color = Rgb565>` works; the simulator draws the same
//! screens to PNG with a full font.

pub mod glyphs;

use core::fmt::Write as _;

use embedded_graphics::mono_font::ascii::FONT_8X13;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use heapless::String;

use crate::session::screen::DetailLine;
use crate::session::Screen;

const MARGIN: i32 = 12;
const GLYPH: i32 = 16;
const BUTTON_H: i32 = 56;

const WHITE: Rgb565 = Rgb565::WHITE;
const INK: Rgb565 = Rgb565::new(3, 6, 3);
const GREY: Rgb565 = Rgb565::new(12, 25, 12);

fn header_colour(screen: &Screen) -> Rgb565 {
    match screen {
        Screen::Error { .. }
        | Screen::PinLocked { .. }
        | Screen::CertExpiredRefused { .. }
        | Screen::PasscodeLocked
        | Screen::FaceFailed { .. } => Rgb565::new(22, 8, 5),
        Screen::CertExpiringSoon { .. }
        | Screen::CertExpiredGrace { .. }
        | Screen::PinConfirmLastTry
        | Screen::ResultsPending => Rgb565::new(27, 40, 2),
        Screen::Done { .. } => Rgb565::new(3, 38, 10),
        Screen::PasscodeEntry { .. }
        | Screen::VisualPlaceCard
        | Screen::VisualCheck
        | Screen::PairingPasscode { .. }
        | Screen::PairingOpen
        | Screen::PairingCode { .. }
        | Screen::PairingDone => Rgb565::new(12, 14, 18),
        _ => Rgb565::new(2, 22, 20),
    }
}

/// The glyph of a non-ASCII character (`None`: not in the table).
pub fn glyph(c: char) -> Option<&'static [u8; 32]> {
    glyphs::GLYPHS.binary_search_by_key(&c, |(k, _)| *k).ok().map(|i| &glyphs::GLYPHS[i].1)
}

/// Draws Japanese text at `scale`, wrapping at `right`; returns the y below the last line.
fn draw_ja<D: DrawTarget<Color = Rgb565>>(
    d: &mut D,
    text: &str,
    mut x: i32,
    mut y: i32,
    right: i32,
    scale: i32,
    colour: Rgb565,
) -> Result<i32, D::Error> {
    let left = x;
    let cell = GLYPH * scale;
    for c in text.chars() {
        // The mono font is not scaled: ASCII always advances 8 px.
        let w = if c.is_ascii() { 8 } else { cell };
        if x + w > right {
            x = left;
            y += cell + 4;
        }
        if c.is_ascii() {
            let mut buf = [0u8; 4];
            let s: &str = c.encode_utf8(&mut buf);
            Text::with_baseline(
                s,
                Point::new(x, y + (cell - 13) / 2),
                MonoTextStyle::new(&FONT_8X13, colour),
                Baseline::Top,
            )
            .draw(d)?;
        } else if let Some(bits) = glyph(c) {
            let pixels = (0..GLYPH).flat_map(move |row| {
                (0..GLYPH).filter_map(move |col| {
                    let byte = bits[(row * 2 + col / 8) as usize];
                    (byte & (0x80 >> (col % 8)) != 0).then_some((row, col))
                })
            });
            for (row, col) in pixels {
                Rectangle::new(
                    Point::new(x + col * scale, y + row * scale),
                    Size::new(scale as u32, scale as u32),
                )
                .into_styled(PrimitiveStyle::with_fill(colour))
                .draw(d)?;
            }
        } else {
            // Not in the table (a test guards that this never happens for our screens).
            Rectangle::new(Point::new(x + 2, y + 2), Size::new((cell - 4) as u32, (cell - 4) as u32))
                .into_styled(PrimitiveStyle::with_stroke(colour, 1))
                .draw(d)?;
        }
        x += w;
    }
    Ok(y + cell)
}

/// Draws English text word-wrapped at `right`; returns the y below the last line.
fn draw_en<D: DrawTarget<Color = Rgb565>>(
    d: &mut D,
    text: &str,
    x: i32,
    mut y: i32,
    right: i32,
    colour: Rgb565,
) -> Result<i32, D::Error> {
    let per_line = ((right - x) / 8).max(1) as usize;
    let style = MonoTextStyle::new(&FONT_8X13, colour);
    let mut rest = text;
    while !rest.is_empty() {
        // ASCII text: byte offsets are character offsets.
        let cut = if rest.len() <= per_line {
            rest.len()
        } else {
            rest.get(..per_line).and_then(|head| head.rfind(' ')).filter(|&i| i > 0).unwrap_or(per_line)
        };
        let cut = (cut..=rest.len()).find(|&i| rest.is_char_boundary(i)).unwrap_or(rest.len());
        let (line, tail) = rest.split_at(cut);
        Text::with_baseline(line, Point::new(x, y), style, Baseline::Top).draw(d)?;
        y += 15;
        rest = tail.trim_start();
    }
    Ok(y)
}

/// Width in pixels of Japanese text at `scale` (ASCII 8 px, the rest one glyph cell).
fn ja_width(text: &str, scale: i32) -> i32 {
    text.chars().map(|c| if c.is_ascii() { 8 } else { GLYPH * scale }).sum()
}

/// The detail line: numbers and dots only, never a PIN or passcode digit.
pub fn detail_text(detail: DetailLine) -> String<64> {
    let mut s: String<64> = String::new();
    let _ = match detail {
        DetailLine::DaysLeft(n) => write!(s, "{n} days left"),
        DetailLine::DaysPast(n) => write!(s, "expired {n} days ago"),
        DetailLine::Dots { entered, of, tries_left } => {
            for i in 0..of {
                let _ = s.push(if i < entered { '●' } else { '○' });
            }
            if tries_left > 0 {
                write!(s, "  tries left: {tries_left}")
            } else {
                Ok(())
            }
        }
        DetailLine::TriesLeft(n) => write!(s, "tries left: {n}"),
        DetailLine::Attempt { attempt, max } => write!(s, "attempt {attempt} of {max}"),
        DetailLine::WaitSeconds(n) => write!(s, "wait {n} s"),
        DetailLine::Code(c) => write!(s, "{c:06}"),
        DetailLine::Consent { item, index } => write!(s, "{} / {} ({}/4)", item.ja(), item.en(), index + 1),
        DetailLine::Error { code, remedy } => write!(s, "E{} {remedy:?}", code.0),
    };
    s
}

/// Draws `screen` on the whole display.
pub fn draw<D>(screen: &Screen, d: &mut D) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb565> + OriginDimensions,
{
    let size = d.size();
    let (w, h) = (size.width as i32, size.height as i32);
    d.clear(WHITE)?;
    let (title_ja, body_ja) = screen.ja();
    let (title_en, body_en) = screen.en();
    // Header: the Japanese title doubled, the English one under it.
    let header_h = 2 * GLYPH + 30;
    Rectangle::new(Point::zero(), Size::new(w as u32, header_h as u32))
        .into_styled(PrimitiveStyle::with_fill(header_colour(screen)))
        .draw(d)?;
    // Doubled when it fits on one line, else normal size.
    let scale = if ja_width(title_ja, 2) <= w - 2 * MARGIN { 2 } else { 1 };
    let y = draw_ja(d, title_ja, MARGIN, 6, w - MARGIN, scale, WHITE)?;
    draw_en(d, title_en, MARGIN, y + 4, w - MARGIN, WHITE)?;
    // Body.
    let mut y = header_h + 10;
    if !body_ja.is_empty() {
        y = draw_ja(d, body_ja, MARGIN, y, w - MARGIN, 1, INK)? + 4;
    }
    if !body_en.is_empty() {
        y = draw_en(d, body_en, MARGIN, y, w - MARGIN, GREY)? + 6;
    }
    if let Some(detail) = screen.detail() {
        draw_ja(d, &detail_text(detail), MARGIN, y, w - MARGIN, 2, INK)?;
    }
    // Buttons along the bottom.
    let buttons = screen.buttons();
    if !buttons.is_empty() {
        let n = buttons.len() as i32;
        let bw = (w - MARGIN * (n + 1)) / n;
        for (i, b) in buttons.iter().enumerate() {
            let x = MARGIN + i as i32 * (bw + MARGIN);
            let top = h - BUTTON_H - MARGIN;
            Rectangle::new(Point::new(x, top), Size::new(bw as u32, BUTTON_H as u32))
                .into_styled(PrimitiveStyle::with_fill(header_colour(screen)))
                .draw(d)?;
            let ja_w = ja_width(b.ja, 1);
            draw_ja(d, b.ja, x + (bw - ja_w) / 2, top + 8, x + bw, 1, WHITE)?;
            let en_w = b.en.len() as i32 * 8;
            draw_en(d, b.en, x + (bw - en_w) / 2, top + 32, x + bw, WHITE)?;
        }
    }
    Ok(())
}
