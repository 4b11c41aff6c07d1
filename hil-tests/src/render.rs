//! The reader's screens rendered to 480×320 PNG, as the simulator shows them: title and body in
//! Japanese first and English second, then the detail line (dots for PIN / passcode entry, days,
//! tries, attempts, the error code with its remedy) and the buttons the screen offers.
//!
//! Text is rasterised with `ab_glyph` from a CJK font installed from Debian (`fonts-noto-cjk`,
//! see `scripts/setup.sh`): [`find_cjk_font`] searches `/usr/share/fonts` (or `$SHIKAKU_FONT`).
//! The strings themselves come from [`Screen::ja`], [`Screen::en`] and [`Screen::detail`]; the
//! helpers here ([`detail_text`], [`remedy_text`], [`buttons`]) are shared with the rig's
//! transcript.

use std::path::{Path, PathBuf};

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use shikaku_firmware::session::screen::DetailLine;
use shikaku_firmware::session::Screen;
use shikaku_protocol::message::{AuthMethod, Remedy};

pub const WIDTH: u32 = 480;
pub const HEIGHT: u32 = 320;

/// Font files tried, in order, under the search roots (Debian `fonts-noto-cjk` first).
const FONT_FILES: &[&str] = &[
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKjp-Regular.otf",
    "NotoSansJP-Regular.otf",
    "NotoSerifCJK-Regular.ttc",
];
const BOLD_FILES: &[&str] = &["NotoSansCJK-Bold.ttc", "NotoSansCJKjp-Bold.otf", "NotoSansJP-Bold.otf"];
const FONT_ROOTS: &[&str] = &["/usr/share/fonts", "/usr/local/share/fonts"];

fn find_in(dir: &Path, name: &str, depth: u32) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut subdirs = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            subdirs.push(p);
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    if depth == 0 {
        return None;
    }
    subdirs.sort();
    subdirs.iter().find_map(|d| find_in(d, name, depth - 1))
}

fn find_font(files: &[&str]) -> Option<PathBuf> {
    files.iter().find_map(|f| FONT_ROOTS.iter().find_map(|r| find_in(Path::new(r), f, 4)))
}

/// The CJK font: `$SHIKAKU_FONT`, else Noto Sans CJK from `fonts-noto-cjk`.
pub fn find_cjk_font() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SHIKAKU_FONT") {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(format!("SHIKAKU_FONT={} is not a file", p.display())) };
    }
    find_font(FONT_FILES).ok_or_else(|| {
        "no CJK font found under /usr/share/fonts: install Debian's fonts-noto-cjk \
         (scripts/setup.sh does), or point SHIKAKU_FONT at a .ttc/.otf with Japanese glyphs"
            .to_string()
    })
}

fn load(path: &Path) -> Result<FontVec, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Face 0 of the Noto CJK collections is the Japanese one ("Noto Sans CJK JP").
    let index = std::env::var("SHIKAKU_FONT_INDEX").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let font = FontVec::try_from_vec_and_index(data, index)
        .map_err(|e| format!("{}: not a usable font: {e}", path.display()))?;
    if font.glyph_id('確').0 == 0 {
        return Err(format!("{}: has no Japanese glyphs", path.display()));
    }
    Ok(font)
}

/// Renders screens; holds the loaded fonts.
pub struct Renderer {
    regular: FontVec,
    bold: Option<FontVec>,
}

/// What kind of screen, for its colour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tone {
    Normal,
    Input,
    Warning,
    Error,
    Done,
}

fn tone(screen: &Screen) -> Tone {
    match screen {
        Screen::Done { renewal_needed: false, .. } => Tone::Done,
        Screen::Done { renewal_needed: true, .. }
        | Screen::CertExpiringSoon { .. }
        | Screen::CertExpiredGrace { .. }
        | Screen::PinConfirmLastTry
        | Screen::PinWrong { .. }
        | Screen::FaceRetry { .. }
        | Screen::PasscodeBackoff { .. } => Tone::Warning,
        Screen::Error { .. }
        | Screen::CertExpiredRefused { .. }
        | Screen::PinLocked { .. }
        | Screen::FaceFailed { .. }
        | Screen::PasscodeLocked => Tone::Error,
        Screen::PinEntry { .. }
        | Screen::PasscodeEntry { .. }
        | Screen::ChooseMethod { .. }
        | Screen::ConsentIntro
        | Screen::Consent { .. }
        | Screen::RegistrationOffer
        | Screen::VisualCheck => Tone::Input,
        _ => Tone::Normal,
    }
}

fn bar_colour(t: Tone) -> Rgb<u8> {
    match t {
        Tone::Normal => Rgb([0x1f, 0x4e, 0x8c]),
        Tone::Input => Rgb([0x2d, 0x6a, 0x4f]),
        Tone::Warning => Rgb([0xc7, 0x7d, 0x0a]),
        Tone::Error => Rgb([0xb0, 0x24, 0x24]),
        Tone::Done => Rgb([0x1b, 0x7f, 0x3b]),
    }
}

/// The screen's variant name (`PinEntry`, `Done`, …), for file names and transcripts.
pub fn screen_name(screen: &Screen) -> String {
    let dbg = format!("{screen:?}");
    dbg.split([' ', '{', '(']).next().unwrap_or("").to_string()
}

/// What to do about an error, Japanese and English.
pub fn remedy_text(remedy: Remedy) -> (&'static str, &'static str) {
    match remedy {
        Remedy::None => ("", ""),
        Remedy::RetryCard => ("カードをもう一度おいてください", "Place the card again"),
        Remedy::OtherMethod => ("別の方法で本人確認してください", "Use another method"),
        Remedy::CallStaff => ("職員をお呼びください", "Please ask staff"),
        Remedy::MunicipalOffice => {
            ("市区町村の窓口でロックを解除してください", "Reset the PIN at the municipal office")
        }
        Remedy::EligibilityCertificate => (
            "資格確認書をご提示ください。市区町村で更新できます",
            "Show your eligibility certificate; renew at the municipal office",
        ),
        Remedy::CheckConnection => ("ケーブルと電源を確認してください", "Check the cable and the power"),
        Remedy::RePair => ("受付端末と再ペアリングしてください", "Pair the reader with the PC again"),
        Remedy::ContactVendor => ("販売元にお問い合わせください", "Contact the vendor"),
    }
}

fn method_text(m: AuthMethod) -> (&'static str, &'static str) {
    match m {
        AuthMethod::Face => ("顔認証", "face"),
        AuthMethod::Pin => ("暗証番号", "PIN"),
        AuthMethod::Visual => ("職員による目視確認", "staff visual check"),
        AuthMethod::OnDevice => ("スマートフォン", "on the phone"),
    }
}

fn tries(n: u8) -> String {
    if n == 1 {
        "1 try left".into()
    } else {
        format!("{n} tries left")
    }
}

/// The detail line in Japanese and English (never a secret: dots, counts, codes).
pub fn detail_text(screen: &Screen) -> Option<(String, String)> {
    if let Screen::Done { method, renewal_needed } = *screen {
        let (ja, en) = method_text(method);
        let (rja, ren) = if renewal_needed {
            ("  電子証明書の更新をお願いします", "; please renew the certificate")
        } else {
            ("", "")
        };
        return Some((format!("確認方法: {ja}{rja}"), format!("confirmed by {en}{ren}")));
    }
    Some(match screen.detail()? {
        DetailLine::DaysLeft(n) => (format!("有効期限まで残り{n}日"), format!("{n} days left")),
        DetailLine::DaysPast(n) => (format!("有効期限から{n}日経過"), format!("expired {n} days ago")),
        DetailLine::Dots { entered, of, tries_left } => {
            let dots: String = (0..of).map(|i| if i < entered { '●' } else { '○' }).collect();
            if tries_left > 0 {
                (
                    format!("{dots}  残り{tries_left}回"),
                    format!("{entered} of {of} digits, {}", tries(tries_left)),
                )
            } else {
                (dots, format!("{entered} of {of} digits"))
            }
        }
        DetailLine::TriesLeft(n) => (format!("残り{n}回"), tries(n)),
        DetailLine::Attempt { attempt, max } => {
            (format!("{attempt}/{max}回目"), format!("attempt {attempt} of {max}"))
        }
        DetailLine::WaitSeconds(s) => (format!("{s}秒後に入力できます"), format!("try again in {s} s")),
        DetailLine::Code(c) => (format!("{c:06}"), format!("{c:06}")),
        DetailLine::Consent { item, index } => {
            (format!("{} ({}/4)", item.ja(), index + 1), format!("{} ({}/4)", item.en(), index + 1))
        }
        DetailLine::Error { code, remedy } => {
            let (ja, en) = remedy_text(remedy);
            (format!("エラー E{:03} {ja}", code.0), format!("Error E{:03}: {en}", code.0))
        }
    })
}

/// The screen's buttons as (Japanese, English) labels (the screen model owns them).
pub fn buttons(screen: &Screen) -> Vec<(&'static str, &'static str)> {
    screen.buttons().iter().map(|b| (b.ja, b.en)).collect()
}

struct Canvas {
    img: RgbImage,
}

impl Canvas {
    fn blend(&mut self, x: i32, y: i32, colour: Rgb<u8>, coverage: f32) {
        if x < 0 || y < 0 || x >= WIDTH as i32 || y >= HEIGHT as i32 {
            return;
        }
        let c = coverage.clamp(0.0, 1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for i in 0..3 {
            p.0[i] = (f32::from(p.0[i]) * (1.0 - c) + f32::from(colour.0[i]) * c).round() as u8;
        }
    }

    fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, colour: Rgb<u8>) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.blend(xx, yy, colour, 1.0);
            }
        }
    }

    fn circle(&mut self, cx: f32, cy: f32, r: f32, colour: Rgb<u8>, filled: bool) {
        let (x0, x1) = ((cx - r - 1.0) as i32, (cx + r + 1.0) as i32);
        let (y0, y1) = ((cy - r - 1.0) as i32, (cy + r + 1.0) as i32);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
                let cov = if filled { r + 0.5 - d } else { 1.5 - (d - r + 1.0).abs() };
                if cov > 0.0 {
                    self.blend(x, y, colour, cov.min(1.0));
                }
            }
        }
    }
}

impl Renderer {
    /// Loads the CJK font (regular, and bold for titles when installed).
    pub fn new() -> Result<Self, String> {
        let regular = load(&find_cjk_font()?)?;
        let bold = if std::env::var_os("SHIKAKU_FONT").is_some() {
            None
        } else {
            find_font(BOLD_FILES).and_then(|p| load(&p).ok())
        };
        Ok(Self { regular, bold })
    }

    fn text_width(font: &FontVec, size: f32, text: &str) -> f32 {
        let f = font.as_scaled(PxScale::from(size));
        text.chars().map(|c| f.h_advance(f.glyph_id(c))).sum()
    }

    /// Splits `text` into lines of at most `max_w` pixels; breaks at spaces when the line has
    /// any (English), else between characters (Japanese), never before 。、).
    fn wrap(font: &FontVec, size: f32, text: &str, max_w: f32) -> Vec<String> {
        let f = font.as_scaled(PxScale::from(size));
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            let adv = f.h_advance(f.glyph_id(c));
            let closing = matches!(c, '。' | '、' | ')' | '\u{FF09}' | '」' | ',' | '.');
            if w + adv > max_w && !line.is_empty() && !closing {
                if c != ' ' {
                    if let Some(sp) = line.rfind(' ') {
                        let rest = line[sp + 1..].to_string();
                        line.truncate(sp);
                        lines.push(std::mem::take(&mut line));
                        line = rest;
                    } else {
                        lines.push(std::mem::take(&mut line));
                    }
                } else {
                    lines.push(std::mem::take(&mut line));
                }
                w = Self::text_width(font, size, &line);
                if c == ' ' {
                    continue;
                }
            }
            line.push(c);
            w += adv;
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    fn draw_text(
        canvas: &mut Canvas,
        font: &FontVec,
        size: f32,
        x: f32,
        baseline: f32,
        text: &str,
        colour: Rgb<u8>,
    ) {
        let scale = PxScale::from(size);
        let f = font.as_scaled(scale);
        let mut caret = x;
        let mut last = None;
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(prev) = last {
                caret += f.kern(prev, id);
            }
            let glyph = id.with_scale_and_position(scale, point(caret, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    canvas.blend(b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, colour, cov);
                });
            }
            caret += f.h_advance(id);
            last = Some(id);
        }
    }

    /// Draws wrapped text; returns the y below it.
    #[allow(clippy::too_many_arguments)]
    fn paragraph(
        &self,
        canvas: &mut Canvas,
        font: &FontVec,
        size: f32,
        y: f32,
        text: &str,
        colour: Rgb<u8>,
        max_lines: usize,
    ) -> f32 {
        let mut y = y;
        for line in Self::wrap(font, size, text, WIDTH as f32 - 32.0).into_iter().take(max_lines) {
            y += size * 1.2;
            Self::draw_text(canvas, font, size, 16.0, y - size * 0.25, &line, colour);
        }
        y
    }

    /// The screen as a 480×320 image.
    pub fn render(&self, screen: &Screen) -> RgbImage {
        let mut c = Canvas { img: RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([0xfa, 0xfa, 0xf7])) };
        let ink = Rgb([0x1a, 0x1a, 0x1a]);
        let grey = Rgb([0x5a, 0x5a, 0x5a]);
        let white = Rgb([0xff, 0xff, 0xff]);
        let t = tone(screen);
        let bar = bar_colour(t);
        let bold = self.bold.as_ref().unwrap_or(&self.regular);
        let (title_ja, body_ja) = screen.ja();
        let (title_en, body_en) = screen.en();

        // Title band: Japanese title, English under it.
        let band_lines = Self::wrap(bold, 22.0, title_ja, WIDTH as f32 - 32.0).len().min(2) as f32;
        let band_h = 14.0 + band_lines * 27.0 + 22.0;
        c.rect(0, 0, WIDTH as i32, band_h as i32, bar);
        let y = self.paragraph(&mut c, bold, 22.0, 4.0, title_ja, white, 2);
        self.paragraph(&mut c, &self.regular, 14.0, y - 2.0, title_en, Rgb([0xe8, 0xee, 0xf5]), 1);

        // Body.
        let mut y = band_h + 4.0;
        if !body_ja.is_empty() {
            y = self.paragraph(&mut c, &self.regular, 17.0, y, body_ja, ink, 3);
        }
        if !body_en.is_empty() {
            y = self.paragraph(&mut c, &self.regular, 13.0, y + 2.0, body_en, grey, 2);
        }

        // Detail line: big dots for PIN / passcode entry, else text.
        if let Some(DetailLine::Dots { entered, of, tries_left }) = screen.detail() {
            let r = 11.0;
            let gap = 40.0;
            let x0 = WIDTH as f32 / 2.0 - gap * (f32::from(of) - 1.0) / 2.0;
            let cy = y + 26.0;
            for i in 0..of {
                c.circle(x0 + gap * f32::from(i), cy, r, ink, i < entered);
            }
            y = cy + r + 4.0;
            if tries_left > 0 {
                let line = format!("残り{tries_left}回 / {}", tries(tries_left));
                y = self.paragraph(&mut c, &self.regular, 15.0, y, &line, bar, 1);
            }
        } else if let Some((ja, en)) = detail_text(screen) {
            let colour = if t == Tone::Normal || t == Tone::Input { bar } else { bar_colour(t) };
            y = self.paragraph(&mut c, bold, 18.0, y + 4.0, &ja, colour, 2);
            y = self.paragraph(&mut c, &self.regular, 13.0, y, &en, grey, 2);
        }
        let _ = y;

        // Buttons along the bottom.
        let b = buttons(screen);
        if !b.is_empty() {
            let n = b.len() as i32;
            let margin = 12;
            let w = (WIDTH as i32 - margin * (n + 1)) / n;
            let h = 52;
            let top = HEIGHT as i32 - h - 10;
            for (i, (ja, en)) in b.iter().enumerate() {
                let x = margin + i as i32 * (w + margin);
                c.rect(x, top, w, h, bar);
                let jw = Self::text_width(bold, 17.0, ja);
                Self::draw_text(
                    &mut c,
                    bold,
                    17.0,
                    x as f32 + (w as f32 - jw) / 2.0,
                    top as f32 + 23.0,
                    ja,
                    white,
                );
                let ew = Self::text_width(&self.regular, 12.0, en);
                Self::draw_text(
                    &mut c,
                    &self.regular,
                    12.0,
                    x as f32 + (w as f32 - ew) / 2.0,
                    top as f32 + 43.0,
                    en,
                    white,
                );
            }
        }
        c.img
    }

    /// Characters of `text` the font has no glyph for (they would render as tofu).
    pub fn missing_glyphs(&self, text: &str) -> Vec<char> {
        text.chars().filter(|c| !c.is_whitespace() && self.regular.glyph_id(*c).0 == 0).collect()
    }

    /// Every string a screen shows: titles, bodies, detail line and buttons.
    pub fn texts(screen: &Screen) -> Vec<String> {
        let (tj, bj) = screen.ja();
        let (te, be) = screen.en();
        let mut v: Vec<String> = [tj, bj, te, be].iter().map(|s| s.to_string()).collect();
        if let Some((dj, de)) = detail_text(screen) {
            v.push(dj);
            v.push(de);
        }
        for (j, e) in buttons(screen) {
            v.push(j.into());
            v.push(e.into());
        }
        v
    }

    /// Renders `screen` and writes it as PNG.
    pub fn save_png(&self, screen: &Screen, path: &Path) -> Result<(), String> {
        self.render(screen).save(path).map_err(|e| format!("{}: {e}", path.display()))
    }
}
