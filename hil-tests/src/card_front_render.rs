//! Renders fictitious card fronts for the card-front reader's tests, and puts them into camera
//! frames under perspective, blur, glare, noise and low light.
//!
//! The card is *not* the My Number card's artwork: a simple layout of the card's size (title,
//! 氏名, 住所, 性別, 生年月日, 有効期限, photo box, セキュリティコード) printed with Noto Sans CJK.
//! Where the digits of 照合番号B go is not decided here: it is the firmware's
//! [`shikaku_face::card_front::layout`], which the reader reads from. What is printed comes
//! from the persona ([`CardPrint::from_persona`]), the same data the virtual card checks
//! 照合番号B against.
//!
//! [`digit_templates_source`] rasterises the reader's digit templates with the same font and
//! cell placement (`cargo run -p shikaku-hil --bin shikaku-glyphs -- --card-digits >
//! firmware/face/src/card_front/templates.rs`).

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shikaku_face::card_front::layout::{self, DigitRow, DigitStyle};

use crate::vcard::persona::{Date, Persona};

/// What is printed on the card front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardPrint {
    pub name: String,
    pub address: String,
    /// 1 male, 2 female, else not stated.
    pub sex: u8,
    pub birth_date: Date,
    pub expiry: Date,
    pub security_code: String,
}

impl CardPrint {
    pub fn from_persona(p: &Persona) -> Self {
        CardPrint {
            name: p.name.clone(),
            address: p.address.clone(),
            sex: p.sex,
            birth_date: p.birth_date,
            expiry: p.card_expiry,
            security_code: p.security_code.clone(),
        }
    }
}

fn era_name(era: u8) -> &'static str {
    match era {
        1 => "明治",
        2 => "大正",
        3 => "昭和",
        4 => "平成",
        _ => "令和",
    }
}

static FONT: OnceLock<Result<FontVec, String>> = OnceLock::new();

/// Noto Sans CJK (face 0, Japanese), loaded once.
pub fn font() -> Result<&'static FontVec, String> {
    FONT.get_or_init(|| {
        let path = crate::render::find_cjk_font()?;
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        FontVec::try_from_vec_and_index(data, 0).map_err(|e| format!("{}: {e}", path.display()))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The `PxScale` that makes one em `em` pixels.
fn em_scale(font: &FontVec, em: f32) -> PxScale {
    PxScale::from(em * font.height_unscaled() / font.units_per_em().unwrap_or(1000.0))
}

/// Draws `c` with its left at `x`, baseline at `baseline`, one em = `em` px; calls `put` with
/// every covered pixel. Answers the advance.
fn draw_char(
    font: &FontVec,
    c: char,
    x: f32,
    baseline: f32,
    em: f32,
    put: &mut dyn FnMut(i32, i32, f32),
) -> f32 {
    let scaled = font.as_scaled(em_scale(font, em));
    let mut glyph = scaled.scaled_glyph(c);
    glyph.position = point(x, baseline);
    let advance = scaled.h_advance(glyph.id);
    if let Some(outline) = font.outline_glyph(glyph) {
        let b = outline.px_bounds();
        outline.draw(|gx, gy, cov| put(b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, cov));
    }
    advance
}

fn text_width(font: &FontVec, text: &str, em: f32) -> f32 {
    let scaled = font.as_scaled(em_scale(font, em));
    text.chars().map(|c| scaled.h_advance(scaled.glyph_id(c))).sum()
}

/// The left edge of a digit glyph in its cell, canonical px: centred on its advance.
fn digit_left(font: &FontVec, style: DigitStyle, cell_left: f32, d: char) -> f32 {
    let em = style.cell_h as f32;
    cell_left + (style.cell_w as f32 - text_width(font, &d.to_string(), em)) / 2.0
}

/// A card canvas at `k` image pixels per canonical pixel.
struct Canvas {
    img: RgbImage,
    k: f32,
}

impl Canvas {
    fn blend(&mut self, x: i32, y: i32, cov: f32, color: [u8; 3]) {
        if x < 0 || y < 0 || x as u32 >= self.img.width() || y as u32 >= self.img.height() {
            return;
        }
        let a = cov.clamp(0.0, 1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for (v, c) in p.0.iter_mut().zip(color) {
            *v = (f32::from(*v) * (1.0 - a) + f32::from(c) * a).round() as u8;
        }
    }

    /// Text with its top-left (em box) at canonical `(left, top)`.
    fn text(&mut self, font: &FontVec, text: &str, left: f32, top: f32, em: f32, color: [u8; 3]) -> f32 {
        let k = self.k;
        let mut x = left * k;
        let baseline = (top + layout::BASELINE * em) * k;
        for c in text.chars() {
            x += draw_char(font, c, x, baseline, em * k, &mut |px, py, cov| self.blend(px, py, cov, color));
        }
        x / k
    }

    /// A right-aligned number in a digit row (blank cells for missing leading digits).
    fn digits(&mut self, font: &FontVec, row: &DigitRow, value: &str, color: [u8; 3]) {
        let padded = format!("{value:>width$}", width = row.cells);
        for (i, d) in padded.chars().enumerate().take(row.cells) {
            if d == ' ' {
                continue;
            }
            let left = digit_left(font, row.style, row.cell_left(i) as f32, d);
            let k = self.k;
            let baseline = (row.top as f32 + layout::BASELINE * row.style.cell_h as f32) * k;
            draw_char(font, d, left * k, baseline, row.style.cell_h as f32 * k, &mut |px, py, cov| {
                self.blend(px, py, cov, color)
            });
        }
    }

    fn fill(&mut self, l: f32, t: f32, r: f32, b: f32, color: [u8; 3]) {
        let k = self.k;
        for y in (t * k) as u32..(b * k) as u32 {
            for x in (l * k) as u32..(r * k) as u32 {
                if x < self.img.width() && y < self.img.height() {
                    self.img.put_pixel(x, y, Rgb(color));
                }
            }
        }
    }

    /// A filled ellipse clipped to the box `clip` (left, top, right, bottom).
    fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, clip: [f32; 4], color: [u8; 3]) {
        let k = self.k;
        let (y0, y1) = (((cy - ry).max(clip[1]) * k) as i32, ((cy + ry).min(clip[3]) * k) as i32);
        let (x0, x1) = (((cx - rx).max(clip[0]) * k) as i32, ((cx + rx).min(clip[2]) * k) as i32);
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = ((x as f32 / k - cx) / rx, (y as f32 / k - cy) / ry);
                if dx * dx + dy * dy <= 1.0 {
                    self.blend(x, y, 1.0, color);
                }
            }
        }
    }
}

const INK: [u8; 3] = [24, 26, 32];
const LABEL: [u8; 3] = [90, 96, 110];

/// Renders the card front at `k` pixels per canonical pixel ([`layout::PX_PER_MM`] × `k` per
/// mm). Outside the rounded corners is left as card colour: [`camera_frame`] cuts them.
pub fn render_card(print: &CardPrint, k: f32) -> Result<RgbImage, String> {
    let font = font()?;
    let (w, h) = ((layout::CARD_WIDTH * k).ceil() as u32, (layout::CARD_HEIGHT * k).ceil() as u32);
    let mut c = Canvas { img: RgbImage::new(w, h), k };
    // Paper: pale with a soft vertical tint and faint guilloche waves.
    for y in 0..h {
        for x in 0..w {
            let v = y as f32 / h as f32;
            let u = x as f32 / w as f32;
            let wave = ((u * 38.0 + (v * 9.0).sin() * 2.0).sin() * (v * 31.0 + u * 5.0).cos()).abs();
            let tint = if wave > 0.97 { 10.0 } else { 0.0 };
            c.img.put_pixel(
                x,
                y,
                Rgb([
                    (246.0 - 6.0 * v - tint) as u8,
                    (247.0 - 3.0 * v - tint * 0.6) as u8,
                    (240.0 - tint * 0.3) as u8,
                ]),
            );
        }
    }
    // Title band.
    c.fill(0.0, 0.0, layout::CARD_WIDTH, 52.0, [214, 228, 242]);
    c.text(font, "試験用カード（架空）", layout::LABEL_LEFT as f32, 12.0, 24.0, [30, 60, 120]);
    c.text(font, "SHIKAKU TEST CARD", 330.0, 16.0, 18.0, [30, 60, 120]);

    let label = |c: &mut Canvas, s: &str, top: f32| {
        c.text(font, s, layout::LABEL_LEFT as f32, top, 16.0, LABEL);
    };
    let value_left = layout::VALUE_LEFT as f32;
    label(&mut c, "氏名", 76.0);
    c.text(font, &print.name, value_left, 68.0, 30.0, INK);
    label(&mut c, "住所", 128.0);
    let room = layout::PHOTO_BOX[0] as f32 - 16.0 - value_left;
    let mut em = 20.0;
    while em > 12.0 && text_width(font, &print.address, em) > room {
        em -= 1.0;
    }
    c.text(font, &print.address, value_left, 124.0, em, INK);
    label(&mut c, "性別", 174.0);
    let sex = match print.sex {
        1 | b'1' => "男",
        2 | b'2' => "女",
        _ => "－",
    };
    c.text(font, sex, value_left, 168.0, 24.0, INK);

    // 生年月日: 昭和60年 3月 5日生
    let te = layout::TEXT_DIGITS.cell_h as f32;
    let (era, era_year) = print.birth_date.era();
    label(&mut c, "生年月日", layout::BIRTH_TOP as f32 + 8.0);
    c.text(font, era_name(era), value_left, layout::BIRTH_TOP as f32, te, INK);
    c.digits(font, &layout::BIRTH_YEAR, &era_year.to_string(), INK);
    c.text(font, "年", layout::BIRTH_YEAR.right() as f32 + 4.0, layout::BIRTH_TOP as f32, te, INK);
    c.digits(font, &layout::BIRTH_MONTH, &print.birth_date.month.to_string(), INK);
    c.text(font, "月", layout::BIRTH_MONTH.right() as f32 + 4.0, layout::BIRTH_TOP as f32, te, INK);
    c.digits(font, &layout::BIRTH_DAY, &print.birth_date.day.to_string(), INK);
    c.text(font, "日生", layout::BIRTH_DAY.right() as f32 + 4.0, layout::BIRTH_TOP as f32, te, INK);

    // 有効期限: 2034年 3月 5日まで
    label(&mut c, "有効期限", layout::EXPIRY_TOP as f32 + 8.0);
    c.digits(font, &layout::EXPIRY_YEAR, &format!("{:04}", print.expiry.year), INK);
    c.text(font, "年", layout::EXPIRY_YEAR.right() as f32 + 4.0, layout::EXPIRY_TOP as f32, te, INK);
    c.digits(font, &layout::EXPIRY_MONTH, &print.expiry.month.to_string(), INK);
    c.text(font, "月", layout::EXPIRY_MONTH.right() as f32 + 4.0, layout::EXPIRY_TOP as f32, te, INK);
    c.digits(font, &layout::EXPIRY_DAY, &print.expiry.day.to_string(), INK);
    c.text(font, "日まで", layout::EXPIRY_DAY.right() as f32 + 4.0, layout::EXPIRY_TOP as f32, te, INK);

    // セキュリティコード
    label(&mut c, "セキュリティコード", layout::CODE_TOP as f32 + 12.0);
    c.digits(font, &layout::SECURITY_CODE, &print.security_code, INK);

    // Photo box: a grey field with a head-and-shoulders silhouette.
    let [pl, pt, pr, pb] = layout::PHOTO_BOX.map(|v| v as f32);
    c.fill(pl - 2.0, pt - 2.0, pr + 2.0, pb + 2.0, [120, 126, 134]);
    c.fill(pl, pt, pr, pb, [196, 202, 210]);
    let cx = (pl + pr) / 2.0;
    let clip = [pl, pt, pr, pb];
    c.ellipse(cx, pb + 10.0, 68.0, 70.0, clip, [110, 116, 126]);
    c.ellipse(cx, pt + 78.0, 38.0, 48.0, clip, [150, 140, 132]);

    c.text(font, "見本", pl, pb + 20.0, 20.0, [200, 60, 60]);
    Ok(c.img)
}

/// Strength of each perturbation, 0 (none) to 1 (severe).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Perturb {
    /// Rotation up to ±16°, keystone up to ±12 %, corner jitter.
    pub perspective: f32,
    /// Gaussian blur, σ up to 2.5 px.
    pub blur: f32,
    /// A bright specular blob on the card, up to white at its centre.
    pub glare: f32,
    /// Sensor noise, σ up to 42 grey levels.
    pub noise: f32,
    /// Exposure down to 10 %, with its own noise (σ up to 6 levels after the gain).
    pub low_light: f32,
}

impl Perturb {
    /// A realistic mild capture: some of everything.
    pub const MILD: Perturb = Perturb { perspective: 0.3, blur: 0.2, glare: 0.2, noise: 0.2, low_light: 0.2 };
}

/// A camera frame and where the card's corners are in it (ground truth).
pub struct Scene {
    pub frame: RgbImage,
    /// Top-left, top-right, bottom-right, bottom-left of the card outline, frame pixels.
    pub corners: [(f32, f32); 4],
}

struct Rng(ChaCha8Rng);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }
    fn unit(&mut self) -> f32 {
        (self.0.next_u32() >> 8) as f32 / (1u32 << 24) as f32
    }
    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f32 {
        self.unit() * 2.0 - 1.0
    }
}

/// Homography (8 coefficients, h8 = 1) taking `from[i]` to `to[i]`.
fn homography(from: &[(f64, f64); 4], to: &[(f64, f64); 4]) -> [f64; 8] {
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let ((u, v), (x, y)) = (from[i], to[i]);
        a[2 * i] = [u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x, x];
        a[2 * i + 1] = [0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y, y];
    }
    for col in 0..8 {
        let pivot = (col..8).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs())).unwrap_or(col);
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col && pivot_row[col] != 0.0 {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    std::array::from_fn(|i| a[i][8] / a[i][i])
}

fn apply(h: &[f64; 8], x: f64, y: f64) -> (f64, f64) {
    let d = h[6] * x + h[7] * y + 1.0;
    ((h[0] * x + h[1] * y + h[2]) / d, (h[3] * x + h[4] * y + h[5]) / d)
}

/// Inside the card's rounded outline, canonical px.
fn inside_card(u: f64, v: f64) -> bool {
    let (w, h) = (f64::from(layout::CARD_WIDTH), f64::from(layout::CARD_HEIGHT));
    let r = f64::from(layout::CORNER_RADIUS_MM * layout::PX_PER_MM);
    if !(0.0..w).contains(&u) || !(0.0..h).contains(&v) {
        return false;
    }
    let cx = u.clamp(r, w - r);
    let cy = v.clamp(r, h - r);
    (u - cx) * (u - cx) + (v - cy) * (v - cy) <= r * r
}

fn bilinear(img: &RgbImage, x: f64, y: f64) -> [f32; 3] {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let x = x.clamp(0.0, (w - 1) as f64);
    let y = y.clamp(0.0, (h - 1) as f64);
    let (x0, y0) = (x as i64, y as i64);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let p = |xx: i64, yy: i64| img.get_pixel(xx as u32, yy as u32).0;
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    std::array::from_fn(|i| {
        let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
        let bot = f32::from(c[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
        top * (1.0 - fy) + bot * fy
    })
}

/// A desk-like dark background: a base tone, a soft wood-grain wave and fine texture.
fn background(rng: &mut Rng, width: u32, height: u32) -> Vec<[f32; 3]> {
    let base = 45.0 + 35.0 * rng.unit();
    let tint = [1.0 + 0.25 * rng.unit(), 1.0, 1.0 - 0.2 * rng.unit()];
    let (fx, fy, ph) = (0.02 + 0.05 * rng.unit(), 0.1 + 0.2 * rng.unit(), std::f32::consts::TAU * rng.unit());
    let mut out = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            let (xf, yf) = (x as f32, y as f32);
            let grain = 10.0 * (xf * fx + (yf * fy * 0.1).sin() * 3.0 + ph).sin() + 4.0 * (yf * fy).sin();
            let fine = 6.0 * rng.signed();
            let v = base + grain + fine;
            out.push([v * tint[0], v * tint[1], v * tint[2]]);
        }
    }
    out
}

fn blur(pixels: &mut [[f32; 3]], width: usize, height: usize, sigma: f32) {
    if sigma < 0.2 {
        return;
    }
    let r = (3.0 * sigma).ceil() as i64;
    let kernel: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / sum).collect();
    let mut tmp = pixels.to_vec();
    for y in 0..height {
        for x in 0..width {
            let mut acc = [0f32; 3];
            for (i, k) in kernel.iter().enumerate() {
                let xx = (x as i64 + i as i64 - r).clamp(0, width as i64 - 1) as usize;
                let p = pixels[y * width + xx];
                for c in 0..3 {
                    acc[c] += k * p[c];
                }
            }
            tmp[y * width + x] = acc;
        }
    }
    for y in 0..height {
        for x in 0..width {
            let mut acc = [0f32; 3];
            for (i, k) in kernel.iter().enumerate() {
                let yy = (y as i64 + i as i64 - r).clamp(0, height as i64 - 1) as usize;
                let p = tmp[yy * width + x];
                for c in 0..3 {
                    acc[c] += k * p[c];
                }
            }
            pixels[y * width + x] = acc;
        }
    }
}

/// Places `card` (rendered at `k`, see [`render_card`]) into a `width` × `height` camera frame
/// on a desk-like background under the perturbations `p`; `seed` draws the placement, the
/// background, the glare spot and the noise.
pub fn camera_frame(card: &RgbImage, k: f32, p: &Perturb, seed: u64, width: u32, height: u32) -> Scene {
    let mut rng = Rng::new(seed);
    let (wf, hf) = (f64::from(width), f64::from(height));
    let aspect = f64::from(layout::CARD_HEIGHT / layout::CARD_WIDTH);
    // Card outline in the frame.
    let mut scale = 0.62 + 0.12 * f64::from(rng.unit());
    let theta = f64::from(rng.signed()) * (2.0 + 14.0 * f64::from(p.perspective)).to_radians();
    let key_v = f64::from(rng.signed()) * 0.12 * f64::from(p.perspective);
    let key_h = f64::from(rng.signed()) * 0.10 * f64::from(p.perspective);
    let jitter: [(f64, f64); 4] = std::array::from_fn(|_| {
        (
            f64::from(rng.signed()) * 0.02 * f64::from(p.perspective),
            f64::from(rng.signed()) * 0.02 * f64::from(p.perspective),
        )
    });
    let (ox, oy) = (f64::from(rng.signed()), f64::from(rng.signed()));
    let corners = loop {
        let cw = wf * scale;
        let ch = cw * aspect;
        // Keystone: the top edge shorter or longer than the bottom, the left than the right.
        let half = [
            (-(1.0 - key_v) * (1.0 - key_h), -(1.0 - key_h)),
            ((1.0 - key_v) * (1.0 + key_h), -(1.0 + key_h)),
            ((1.0 + key_v) * (1.0 + key_h), 1.0 + key_h),
            (-(1.0 + key_v) * (1.0 - key_h), 1.0 - key_h),
        ];
        let local: Vec<(f64, f64)> = half
            .iter()
            .zip(&jitter)
            .map(|(&(x, y), &(jx, jy))| (x * cw / 2.0 + jx * cw, y * ch / 2.0 + jy * cw))
            .map(|(x, y)| (x * theta.cos() - y * theta.sin(), x * theta.sin() + y * theta.cos()))
            .collect();
        let (minx, maxx) = local.iter().fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
        let (miny, maxy) = local.iter().fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
        let margin = 8.0;
        let slack_x = (wf - (maxx - minx)) / 2.0 - margin;
        let slack_y = (hf - (maxy - miny)) / 2.0 - margin;
        if slack_x < 0.0 || slack_y < 0.0 {
            scale *= 0.95;
            continue;
        }
        let cx = wf / 2.0 - (minx + maxx) / 2.0 + ox * slack_x;
        let cy = hf / 2.0 - (miny + maxy) / 2.0 + oy * slack_y;
        break [0, 1, 2, 3].map(|i| (local[i].0 + cx, local[i].1 + cy));
    };
    let (cw, chh) = (f64::from(layout::CARD_WIDTH), f64::from(layout::CARD_HEIGHT));
    let canon = [(0.0, 0.0), (cw, 0.0), (cw, chh), (0.0, chh)];
    let to_card = homography(&corners, &canon);
    let to_frame = homography(&canon, &corners);

    let bg = background(&mut rng, width, height);
    let (w, h) = (width as usize, height as usize);
    let mut pixels = vec![[0f32; 3]; w * h];
    // Supersampled: 4 × 4 near the card's outline (sharp, exact edges), 2 × 2 on the card,
    // the background alone away from it.
    let (cw_f, ch_f) = (f64::from(layout::CARD_WIDTH), f64::from(layout::CARD_HEIGHT));
    let kk = f64::from(k);
    for y in 0..h {
        for x in 0..w {
            let (u, v) = apply(&to_card, x as f64, y as f64);
            const M: f64 = 4.0;
            if u < -M || v < -M || u > cw_f + M || v > ch_f + M {
                pixels[y * w + x] = bg[y * w + x];
                continue;
            }
            let r = f64::from(layout::CORNER_RADIUS_MM * layout::PX_PER_MM);
            let near_edge = u < M + r || v < M + r || u > cw_f - M - r || v > ch_f - M - r;
            let ss = if near_edge { 4 } else { 2 };
            let mut acc = [0f32; 3];
            for sy in 0..ss {
                for sx in 0..ss {
                    let fx = x as f64 + (sx as f64 + 0.5) / ss as f64 - 0.5;
                    let fy = y as f64 + (sy as f64 + 0.5) / ss as f64 - 0.5;
                    let (u, v) = apply(&to_card, fx, fy);
                    let c = if !near_edge || inside_card(u, v) {
                        bilinear(card, u * kk - 0.5, v * kk - 0.5)
                    } else {
                        bg[y * w + x]
                    };
                    for i in 0..3 {
                        acc[i] += c[i];
                    }
                }
            }
            pixels[y * w + x] = acc.map(|a| a / (ss * ss) as f32);
        }
    }

    // Uneven light across the frame, and the glare spot on the card.
    let (gx, gy) = (rng.signed(), rng.signed());
    let (gu, gv) = (f64::from(0.15 + 0.7 * rng.unit()) * cw, f64::from(0.2 + 0.6 * rng.unit()) * chh);
    let (bx, by) = apply(&to_frame, gu, gv);
    let card_w_px =
        ((corners[1].0 - corners[0].0).powi(2) + (corners[1].1 - corners[0].1).powi(2)).sqrt() as f32;
    let sigma = card_w_px * (0.07 + 0.07 * p.glare);
    let peak = (1.2 * p.glare).min(1.0);
    for y in 0..h {
        for x in 0..w {
            let light = 1.0 + 0.08 * (gx * (x as f32 / w as f32 - 0.5) + gy * (y as f32 / h as f32 - 0.5));
            let (dx, dy) = (x as f32 - bx as f32, y as f32 - by as f32);
            let g = peak * (-(dx * dx + dy * dy) / (2.0 * sigma * sigma)).exp();
            let px = &mut pixels[y * w + x];
            for c in px.iter_mut() {
                *c *= light;
                *c += (255.0 - *c).max(0.0) * g;
            }
        }
    }
    blur(&mut pixels, w, h, 2.5 * p.blur);
    let gain = 1.0 - 0.9 * p.low_light;
    let sigma_noise = 2.0 + 40.0 * p.noise + 6.0 * p.low_light;
    // Sensor noise: a per-pixel luminance part and a smaller per-channel part, near-Gaussian
    // (sum of four uniforms) from a fast generator seeded by the scene's.
    let mut state = u64::from(rng.0.next_u32()) << 32 | u64::from(rng.0.next_u32()) | 1;
    let mut gauss = move || {
        let mut acc = 0f32;
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            acc += (state >> 40) as f32 / (1u64 << 24) as f32;
        }
        (acc - 2.0) * 1.732
    };
    let mut raw = Vec::with_capacity(w * h * 3);
    for px in &pixels {
        let n = sigma_noise * gauss();
        for c in px {
            raw.push((c * gain + n + 0.3 * sigma_noise * gauss()).round().clamp(0.0, 255.0) as u8);
        }
    }
    let frame = RgbImage::from_raw(width, height, raw).expect("w × h × 3 samples");
    Scene { frame, corners: corners.map(|(x, y)| (x as f32, y as f32)) }
}

/// A frame with no card: the desk alone (the same background as [`camera_frame`]).
pub fn empty_frame(seed: u64, width: u32, height: u32) -> RgbImage {
    let mut rng = Rng::new(seed);
    let bg = background(&mut rng, width, height);
    let mut frame = RgbImage::new(width, height);
    for (i, px) in bg.iter().enumerate() {
        frame.put_pixel(
            (i as u32) % width,
            (i as u32) / width,
            Rgb(px.map(|c| c.round().clamp(0.0, 255.0) as u8)),
        );
    }
    frame
}

/// The persona's card front in a frame: render and place in one call.
pub fn persona_frame(p: &Persona, perturb: &Perturb, seed: u64) -> Result<Scene, String> {
    const K: f32 = 2.0;
    let card = render_card(&CardPrint::from_persona(p), K)?;
    Ok(camera_frame(&card, K, perturb, seed, 640, 480))
}

/// One digit template: coverage 0–255 of digit `d` in a cell of `style`, placed as
/// [`render_card`] places it, blurred by a Gaussian of `sigma` canonical px (0: sharp).
pub fn digit_template(style: DigitStyle, d: u8, sigma: f32) -> Result<Vec<u8>, String> {
    let font = font()?;
    let (w, h) = (style.cell_w, style.cell_h);
    let mut cov = vec![0f32; w * h];
    let c = char::from(b'0' + d);
    let left = digit_left(font, style, 0.0, c);
    draw_char(font, c, left, layout::BASELINE * h as f32, h as f32, &mut |x, y, a| {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            let v = &mut cov[y as usize * w + x as usize];
            *v = (*v + a).min(1.0);
        }
    });
    if sigma > 0.0 {
        let mut px: Vec<[f32; 3]> = cov.iter().map(|&v| [v; 3]).collect();
        blur(&mut px, w, h, sigma);
        cov = px.iter().map(|p| p[0]).collect();
        let max = cov.iter().cloned().fold(1e-6, f32::max);
        cov.iter_mut().for_each(|v| *v /= max);
    }
    Ok(cov.iter().map(|a| (a * 255.0).round() as u8).collect())
}

/// Blur of the second template set, canonical px: a card some 2 px out of focus in a VGA frame.
pub const BLURRED_TEMPLATE_SIGMA: f32 = 2.0;

/// The source of `firmware/face/src/card_front/templates.rs`.
pub fn digit_templates_source() -> Result<String, String> {
    let mut s = String::new();
    s += "// @generated by `cargo run -p shikaku-hil --bin shikaku-glyphs -- --card-digits`\n";
    s += "//! Generated by `cargo run -p shikaku-hil --bin shikaku-glyphs -- --card-digits`: do not edit.\n";
    s += "//! Digit templates of the card front: ink coverage 0–255 of each digit in its cell (rows top\n";
    s +=
        "//! to bottom), placed as the layout prints it, from Noto Sans CJK (SIL Open Font License 1.1).\n\n";
    for (name, style, sigma, doc) in [
        ("TEXT", layout::TEXT_DIGITS, 0.0, "Dates (`layout::TEXT_DIGITS` cells)"),
        ("CODE", layout::CODE_DIGITS, 0.0, "セキュリティコード (`layout::CODE_DIGITS` cells)"),
        ("TEXT_BLURRED", layout::TEXT_DIGITS, BLURRED_TEMPLATE_SIGMA, "Dates, blurred"),
        ("CODE_BLURRED", layout::CODE_DIGITS, BLURRED_TEMPLATE_SIGMA, "セキュリティコード, blurred"),
    ] {
        s += &format!("/// {doc}, digits 0 to 9 (Gaussian blur σ = {sigma} canonical px).\n");
        s += &format!("pub(crate) static {name}: [&[u8]; 10] = [\n");
        for d in 0..10 {
            let t = digit_template(style, d, sigma)?;
            s += "    &[\n";
            for row in t.chunks(style.cell_w) {
                let vals: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                s += &format!("        {},\n", vals.join(", "));
            }
            s += "    ],\n";
        }
        s += "];\n";
    }
    Ok(s)
}
