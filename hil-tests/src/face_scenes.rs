//! Camera scenes for the face tests, rendered from the fixture card's chip photo: frame
//! sequences of a live face and of replay attacks (flat print, screen showing the photo,
//! screen showing a video of the live face) for the liveness tests, and single genuine frames
//! under pose, light, blur, noise and JPEG compression for the accuracy evaluation.
//!
//! The model, deliberately simple and stated so results can be judged:
//!
//! * **Live**: the photo is wrapped onto a head-like depth map (an ellipsoid for the head with
//!   a raised nose ridge and slightly recessed eye sockets, in photo pixels) and turned by a few
//!   degrees of yaw, pitch and roll about a pivot behind the face, seen through a pinhole camera
//!   (so nearer parts move more: parallax). Only the person (head ellipse and shoulders) is
//!   taken from the photo; around it is a static, textured room. Self-occlusion is ignored
//!   (small angles).
//! * **Flat print**: the same tinted photo printed on a sheet with a white border (reduced
//!   contrast, lifted blacks, a weak halftone pattern, paper grain), held in front of the same
//!   room and moved rigidly (each frame is a homography of the sheet).
//! * **Screen photo**: a flat screen with a dark bezel showing the photo: display pixels with
//!   R, G, B sub-pixel stripes and a black matrix (the camera integrates 3×3 samples per pixel,
//!   which is where moiré comes from), gamma and a blue colour shift, a lifted black level;
//!   moved rigidly, less than a print (screens are heavier).
//! * **Screen video**: the same screen showing the live renderer's frames (a video of the live
//!   face in its own room): the content has real parallax, only the screen's own artefacts and
//!   motion give it away.
//!
//! Every scene then goes through the same camera: per-frame light gain and colour temperature
//! changes, Gaussian blur, Gaussian sensor noise, and optionally JPEG compression (the `image`
//! crate's encoder and decoder). All randomness comes from a SplitMix64 stream whose state
//! ChaCha20 derives from the caller's seed: the same parameters give the same frames. Ground truth per frame: the face box
//! (the photo's face box, as dlib's CNN detector finds it in the chip photo, projected into
//! the frame) and the five landmarks (dlib's 5-point predictor on the chip photo, projected).
//!
//! Checked against dlib 20.0.1 once (the `dump_scenes` test of `tests/face_liveness.rs` writes
//! frames and `truth.json`; dlib's CNN detector at one upsampling and its 5-point predictor ran
//! on them): on 3 sequences per class and 12 stills, dlib found the face in every frame, with
//! IoU to our box 0.63…0.97 (mean 0.77…0.87 per class) and its landmarks within 1.6 % of the
//! box width of ours (mean 0.4…0.8 %).
//!
//! Limits: the head is a textured ellipsoid cut out of a grey photo (no ears, no hair volume, a
//! visible egg-shaped outline), the skin colour is one tint, the screen's sub-pixel pattern is
//! stronger than most real screens show at this distance (so the moiré cue has an easy time),
//! and there is no hand, glare or paper bending.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use shikaku_face::image::{ImageRef, Point, Rect};

use crate::vcard;

/// A greyscale image owned by the caller (the decoded chip photo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GreyImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

/// An RGB camera frame (row-major, 3 bytes per pixel, no padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbFrame {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl RgbFrame {
    /// The frame as the firmware's image type.
    pub fn image_ref(&self) -> ImageRef<'_> {
        ImageRef::new(self.width, self.height, 3, &self.data).expect("an RgbFrame is always well formed")
    }

    /// Writes the frame as a PNG (for looking at scenes by eye).
    pub fn save_png(&self, path: &std::path::Path) -> Result<(), String> {
        image::save_buffer(path, &self.data, self.width as u32, self.height as u32, image::ColorType::Rgb8)
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The chip photo's face box as dlib's CNN (MMOD) face detector reports it on the decoded
/// fixture photo (378×472), inclusive edges.
pub const PHOTO_FACE_BOX: Rect = Rect { left: 81, top: 175, right: 277, bottom: 372 };

/// dlib's 5-point landmarks on the fixture photo, in dlib's order: the subject's left eye
/// outer and inner corner (image right), right eye outer and inner corner, nose base.
pub const PHOTO_LANDMARKS: [Point; 5] = [
    Point { x: 251.0, y: 228.0 },
    Point { x: 215.0, y: 234.0 },
    Point { x: 127.0, y: 234.0 },
    Point { x: 164.0, y: 237.0 },
    Point { x: 193.0, y: 307.0 },
];

/// The fixture card's chip photo (tag DF27 of surface-0002.bin), decoded by the firmware's
/// JPEG 2000 decoder: 378×472 grey.
pub fn fixture_photo() -> Result<GreyImage, String> {
    use shikaku_face::jp2;
    let face = vcard::fixture("surface-0002.bin")?;
    let jp = vcard::records::child(&face, 0xDF27).ok_or("fixture surface-0002.bin has no DF27")?;
    let words = jp2::arena_words(jp).map_err(|e| format!("chip photo: {e}"))?;
    let info = jp2::info(jp).map_err(|e| format!("chip photo: {e}"))?;
    let mut arena = vec![0i32; words];
    let mut out = vec![0u8; info.output_len()];
    let img = jp2::decode(jp, &mut arena, &mut out).map_err(|e| format!("chip photo: {e}"))?;
    let info = img.info();
    if info.components != 1 {
        return Err(format!("chip photo has {} components, expected grey", info.components));
    }
    Ok(GreyImage { width: info.width as usize, height: info.height as usize, data: img.pixels().to_vec() })
}

/// What is in front of the camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SceneKind {
    Live,
    FlatPrint,
    ScreenPhoto,
    ScreenVideo,
}

impl SceneKind {
    pub const ALL: [SceneKind; 4] =
        [SceneKind::Live, SceneKind::FlatPrint, SceneKind::ScreenPhoto, SceneKind::ScreenVideo];

    pub fn is_attack(self) -> bool {
        self != SceneKind::Live
    }

    pub fn name(self) -> &'static str {
        match self {
            SceneKind::Live => "live",
            SceneKind::FlatPrint => "flat print",
            SceneKind::ScreenPhoto => "screen photo",
            SceneKind::ScreenVideo => "screen video",
        }
    }
}

/// Where the face (or the sheet, or the screen) is in one frame. Angles in degrees; the shift
/// in frame pixels from the frame centre; `scale` multiplies the nominal size.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    pub tx: f32,
    pub ty: f32,
    pub scale: f32,
}

/// Perturbations of a sequence; `seed` draws phases, drifts, noise and the room.
#[derive(Clone, Debug, PartialEq)]
pub struct Perturb {
    pub seed: u64,
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    /// Peak head (or sheet/screen) rotation over the sequence, degrees.
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub roll_deg: f32,
    /// Peak translation, frame pixels.
    pub shift_px: f32,
    /// Face width in the frame, pixels (nominal).
    pub face_px: f32,
    /// Peak relative change of the light between frames (0.1 = ±10 %).
    pub light: f32,
    /// Gaussian blur sigma, pixels (0 = none).
    pub blur: f32,
    /// Sensor noise sigma, grey levels.
    pub noise: f32,
    /// JPEG quality of the camera's compression (None = raw).
    pub jpeg_quality: Option<u8>,
    /// Peak error of the ground-truth face box edges, pixels (a detector is not exact).
    pub box_jitter: f32,
}

impl Perturb {
    /// The standard liveness scene: 6 frames of 320×240, a face about 110 px wide, a few
    /// degrees of head turn, mild light changes, noise σ 2, JPEG quality 85; amplitudes and
    /// phases vary with the seed.
    pub fn standard(seed: u64) -> Perturb {
        let mut r = Rng::new(seed ^ 0x5eed_0001);
        Perturb {
            seed,
            frames: 6,
            width: 320,
            height: 240,
            yaw_deg: r.range(4.0, 9.0),
            pitch_deg: r.range(2.0, 5.0),
            roll_deg: r.range(0.5, 3.0),
            shift_px: r.range(2.0, 10.0),
            face_px: r.range(95.0, 125.0),
            light: r.range(0.02, 0.08),
            blur: r.range(0.3, 0.9),
            noise: r.range(1.0, 3.0),
            jpeg_quality: Some(r.range(75.0, 95.0) as u8),
            box_jitter: 1.5,
        }
    }

    /// The same scene without any head or sheet motion (only noise and light).
    pub fn still(seed: u64) -> Perturb {
        Perturb { yaw_deg: 0.0, pitch_deg: 0.0, roll_deg: 0.0, shift_px: 0.0, ..Perturb::standard(seed) }
    }
}

/// A rendered sequence with its ground truth.
#[derive(Clone, Debug)]
pub struct Sequence {
    pub kind: SceneKind,
    pub frames: Vec<RgbFrame>,
    pub boxes: Vec<Rect>,
    pub landmarks: Vec<[Point; 5]>,
    pub poses: Vec<Pose>,
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// SplitMix64, seeded through ChaCha20 (cheap enough for per-pixel noise in debug builds).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(ChaCha20Rng::seed_from_u64(seed).next_u64())
    }
    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 32) as u32
    }
    fn unit(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / (1u32 << 24) as f32
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    fn sign(&mut self) -> f32 {
        if self.next_u32() & 1 == 0 {
            1.0
        } else {
            -1.0
        }
    }
    fn gauss(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
}

// ---------------------------------------------------------------------------------------------
// Textures (f32 RGB, 0…255)

#[derive(Clone)]
struct Texture {
    w: usize,
    h: usize,
    rgb: Vec<[f32; 3]>,
    /// Opacity per texel (0 = see-through).
    alpha: Vec<f32>,
}

impl Texture {
    fn new(w: usize, h: usize) -> Texture {
        Texture { w, h, rgb: vec![[0.0; 3]; w * h], alpha: vec![1.0; w * h] }
    }

    /// Bilinear sample at texel coordinates; None outside or where transparent.
    fn sample(&self, u: f32, v: f32) -> Option<[f32; 3]> {
        if !(u >= 0.0 && v >= 0.0 && u <= (self.w - 1) as f32 && v <= (self.h - 1) as f32) {
            return None;
        }
        let (x0, y0) = (u as usize, v as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (u - x0 as f32, v - y0 as f32);
        let ws = [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy];
        let idx = [y0 * self.w + x0, y0 * self.w + x1, y1 * self.w + x0, y1 * self.w + x1];
        let mut a = 0.0;
        let mut c = [0.0; 3];
        for k in 0..4 {
            let w = ws[k] * self.alpha[idx[k]];
            let t = &self.rgb[idx[k]];
            a += w;
            c[0] += t[0] * w;
            c[1] += t[1] * w;
            c[2] += t[2] * w;
        }
        if a < 0.5 {
            return None;
        }
        Some([c[0] / a, c[1] / a, c[2] / a])
    }
}

/// A grey photo value → skin-like RGB (the attacker's copy is in colour too, so every scene
/// uses the same tint: colour alone must not give the attacks away).
fn tint(g: f32) -> [f32; 3] {
    [g * 1.04 + 4.0, g * 0.96, g * 0.88]
}

/// Whether a photo texel belongs to the head (ellipse) and to the shoulders, not the photo's
/// backdrop.
fn person_alpha(photo: &GreyImage, u: f32, v: f32) -> (f32, f32) {
    let (sx, sy) = (photo.width as f32 / 378.0, photo.height as f32 / 472.0);
    let (u, v) = (u / sx, v / sy);
    let e = ((u - 186.0) / 128.0).powi(2) + ((v - 235.0) / 200.0).powi(2);
    let head = ((1.0 - e) * 40.0).clamp(0.0, 1.0);
    let shoulders =
        if v > 360.0 { ((75.0 + (v - 360.0) * 1.9 - (u - 189.0).abs()) / 3.0).clamp(0.0, 1.0) } else { 0.0 };
    (head, shoulders)
}

/// Which part of the photo a texture keeps.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Head,
    Shoulders,
}

/// The head's depth (towards the camera) per photo texel, photo pixels: an ellipsoid, a nose
/// ridge and eye sockets, placed from the landmarks of the fixture photo.
fn head_depth(photo: &GreyImage) -> Vec<f32> {
    let (w, h) = (photo.width, photo.height);
    let (sx, sy) = (w as f32 / 378.0, h as f32 / 472.0);
    let mut d = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f32 / sx, y as f32 / sy);
            let e = ((u - 189.0) / 125.0).powi(2) + ((v - 250.0) / 185.0).powi(2);
            let mut z = 105.0 * (1.0 - e).max(0.0).sqrt();
            // Nose ridge from the bridge (190, 235) to the tip (193, 300), rising.
            let t = ((v - 235.0) / 65.0).clamp(0.0, 1.0);
            let cx = 190.0 + 3.0 * t;
            let along = if v < 235.0 {
                (-(v - 235.0).powi(2) / (2.0 * 12.0f32.powi(2))).exp()
            } else if v > 300.0 {
                (-(v - 300.0).powi(2) / (2.0 * 9.0f32.powi(2))).exp()
            } else {
                1.0
            };
            let width = 10.0 + 6.0 * t;
            z += (12.0 + 26.0 * t) * along * (-(u - cx).powi(2) / (2.0 * width * width)).exp();
            // Eye sockets.
            for (ex, ey) in [(233.0f32, 232.0f32), (145.0, 235.0)] {
                z -= 9.0 * (-((u - ex).powi(2) + (v - ey).powi(2)) / (2.0 * 20.0f32.powi(2))).exp();
            }
            d[y * w + x] = z * sx;
        }
    }
    d
}

fn photo_texture(photo: &GreyImage, part: Part) -> Texture {
    let mut t = Texture::new(photo.width, photo.height);
    for y in 0..photo.height {
        for x in 0..photo.width {
            let i = y * photo.width + x;
            t.rgb[i] = tint(photo.data[i] as f32);
            let (head, shoulders) = person_alpha(photo, x as f32, y as f32);
            t.alpha[i] = match part {
                Part::Head => head,
                Part::Shoulders => shoulders,
            };
        }
    }
    t
}

/// A static room behind the subject: a lit wall with a shelf, a door frame, a poster and
/// plaster texture, different per seed.
fn room(w: usize, h: usize, seed: u64) -> Vec<[f32; 3]> {
    let mut r = Rng::new(seed ^ 0x0700_u64);
    let base = [r.range(120.0, 200.0), r.range(115.0, 190.0), r.range(100.0, 180.0)];
    let grad = r.range(-0.25, 0.25);
    let door_x = r.range(0.05, 0.3) * w as f32;
    let door_w = r.range(0.18, 0.3) * w as f32;
    let poster = (r.range(0.6, 0.8) * w as f32, r.range(0.1, 0.3) * h as f32, r.range(0.12, 0.2) * w as f32);
    let shelf_y = r.range(0.55, 0.8) * h as f32;
    let phase = r.range(0.0, 100.0);
    let mut out = vec![[0.0; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f32, y as f32);
            let light = 1.0 + grad * (xf / w as f32 - 0.5) - 0.15 * (yf / h as f32 - 0.3).powi(2);
            let plaster = 6.0 * ((xf * 0.71 + phase).sin() * (yf * 0.53 + phase * 0.3).cos())
                + 4.0 * ((xf * 0.23 + yf * 0.31 + phase).sin());
            let mut c = [base[0] * light + plaster, base[1] * light + plaster, base[2] * light + plaster];
            if (xf - door_x).abs() < 4.0 || (xf - door_x - door_w).abs() < 4.0 {
                c = [90.0, 70.0, 50.0];
            }
            if xf > poster.0 && xf < poster.0 + poster.2 && yf > poster.1 && yf < poster.1 + poster.2 * 1.3 {
                let s = (((xf - poster.0) / 6.0) as i32 + ((yf - poster.1) / 6.0) as i32) & 1;
                c = if s == 0 { [200.0, 60.0, 50.0] } else { [40.0, 70.0, 150.0] };
            }
            if (yf - shelf_y).abs() < 3.0 {
                c = [60.0, 45.0, 35.0];
            }
            out[y * w + x] = c;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Geometry: an object (texture + depth) posed in front of a pinhole camera.

struct Object<'t> {
    tex: &'t Texture,
    /// Depth per texel (texture pixels, towards the camera), None = flat.
    depth: Option<&'t [f32]>,
    /// The texel at the pose's origin.
    centre: (f32, f32),
    /// Frame pixels per texel at scale 1.
    k: f32,
    /// Rotation pivot depth (texture pixels, negative = behind the surface).
    pivot_z: f32,
}

struct Camera {
    w: usize,
    h: usize,
    /// Distance of the object's plane from the camera, frame pixels (focal length units).
    dist: f32,
}

fn rotation(p: &Pose) -> [[f32; 3]; 3] {
    let (a, b, c) = (p.yaw.to_radians(), p.pitch.to_radians(), p.roll.to_radians());
    let ry = [[a.cos(), 0.0, a.sin()], [0.0, 1.0, 0.0], [-a.sin(), 0.0, a.cos()]];
    let rx = [[1.0, 0.0, 0.0], [0.0, b.cos(), -b.sin()], [0.0, b.sin(), b.cos()]];
    let rz = [[c.cos(), -c.sin(), 0.0], [c.sin(), c.cos(), 0.0], [0.0, 0.0, 1.0]];
    mat_mul(&rz, &mat_mul(&ry, &rx))
}

fn mat_mul(a: &[[f32; 3]; 3], b: &[[f32; 3]; 3]) -> [[f32; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

impl<'t> Object<'t> {
    /// The photo's head in relief: texture `tex`, depth map `depth`, centred a little below
    /// the photo's middle, turning about a point behind the face.
    fn head(photo: &GreyImage, tex: &'t Texture, depth: &'t [f32]) -> Self {
        Object {
            tex,
            depth: Some(depth),
            centre: (photo.width as f32 * 0.5, photo.height as f32 * 0.52),
            k: 1.0,
            pivot_z: -90.0 * photo.width as f32 / 378.0,
        }
    }

    fn depth_at(&self, u: f32, v: f32) -> f32 {
        let Some(d) = self.depth else { return 0.0 };
        let (w, h) = (self.tex.w, self.tex.h);
        let x = (u.round() as i64).clamp(0, w as i64 - 1) as usize;
        let y = (v.round() as i64).clamp(0, h as i64 - 1) as usize;
        d[y * w + x]
    }

    /// Texel (u, v) → frame point, and the local scale (for the inverse).
    fn project(
        &self,
        cam: &Camera,
        pose: &Pose,
        r: &[[f32; 3]; 3],
        u: f32,
        v: f32,
        z: f32,
    ) -> (f32, f32, f32) {
        let s = self.k * pose.scale;
        let p = [s * (u - self.centre.0), s * (v - self.centre.1), s * (z - self.pivot_z)];
        let q: [f32; 3] = core::array::from_fn(|i| (0..3).map(|j| r[i][j] * p[j]).sum::<f32>());
        let zc = q[2] + s * self.pivot_z;
        let m = cam.dist / (cam.dist - zc);
        (cam.w as f32 / 2.0 + pose.tx + q[0] * m, cam.h as f32 / 2.0 + pose.ty + q[1] * m, m * s)
    }

    fn project_texel(&self, cam: &Camera, pose: &Pose, u: f32, v: f32) -> Point {
        let r = rotation(pose);
        let (x, y, _) = self.project(cam, pose, &r, u, v, self.depth_at(u, v));
        Point { x, y }
    }

    /// Frame point → texel, by fixed-point iteration (the depth makes it implicit), starting
    /// from `start` (the neighbouring pixel's answer).
    #[allow(clippy::too_many_arguments)]
    fn unproject(
        &self,
        cam: &Camera,
        pose: &Pose,
        r: &[[f32; 3]; 3],
        x: f32,
        y: f32,
        start: (f32, f32),
        iters: usize,
    ) -> (f32, f32) {
        let det = r[0][0] * r[1][1] - r[0][1] * r[1][0];
        let (mut u, mut v) = start;
        for _ in 0..iters {
            let (px, py, m) = self.project(cam, pose, r, u, v, self.depth_at(u, v));
            let (ex, ey) = ((x - px) / m, (y - py) / m);
            u += (r[1][1] * ex - r[0][1] * ey) / det;
            v += (-r[1][0] * ex + r[0][0] * ey) / det;
        }
        (u, v)
    }

    /// For a flat object: the frame → texel homography (exact).
    fn inverse_homography(&self, cam: &Camera, pose: &Pose, r: &[[f32; 3]; 3]) -> [[f32; 3]; 3] {
        let s = self.k * pose.scale;
        let d = cam.dist;
        let (ox, oy) = (cam.w as f32 / 2.0 + pose.tx, cam.h as f32 / 2.0 + pose.ty);
        // (a, b) = texel − centre; x = (d·s(r00 a + r01 b)) / (d − s(r20 a + r21 b)) + ox.
        let h = [
            [d * s * r[0][0] - ox * s * r[2][0], d * s * r[0][1] - ox * s * r[2][1], ox * d],
            [d * s * r[1][0] - oy * s * r[2][0], d * s * r[1][1] - oy * s * r[2][1], oy * d],
            [-s * r[2][0], -s * r[2][1], d],
        ];
        invert3(&h)
    }
}

#[allow(clippy::needless_range_loop)]
fn invert3(m: &[[f32; 3]; 3]) -> [[f32; 3]; 3] {
    let c = |i: usize, j: usize| {
        let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
        let (j1, j2) = ((j + 1) % 3, (j + 2) % 3);
        m[i1][j1] * m[i2][j2] - m[i1][j2] * m[i2][j1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    let mut o = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            o[j][i] = c(i, j) / det;
        }
    }
    o
}

/// Renders the object over `background` (f32 RGB), `ss`×`ss` samples per pixel.
fn render_object(
    cam: &Camera,
    obj: &Object<'_>,
    pose: &Pose,
    background: &[[f32; 3]],
    ss: usize,
    shade: Option<&dyn Fn(f32, f32) -> f32>,
) -> Vec<[f32; 3]> {
    let r = rotation(pose);
    // Bounding box of the object in the frame (its texture corners, padded for depth).
    let (tw, th) = (obj.tex.w as f32, obj.tex.h as f32);
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (u, v) in [(0.0, 0.0), (tw, 0.0), (0.0, th), (tw, th)] {
        for z in [0.0, 150.0] {
            let (x, y, _) = obj.project(cam, pose, &r, u, v, z);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    let xs = (x0.floor().max(0.0) as usize).min(cam.w);
    let xe = ((x1.ceil() + 1.0).max(0.0) as usize).min(cam.w);
    let ys = (y0.floor().max(0.0) as usize).min(cam.h);
    let ye = ((y1.ceil() + 1.0).max(0.0) as usize).min(cam.h);
    let mut out = background.to_vec();
    let hinv = if obj.depth.is_none() { Some(obj.inverse_homography(cam, pose, &r)) } else { None };
    let n = (ss * ss) as f32;
    for y in ys..ye {
        let mut prev = obj.unproject(cam, pose, &r, xs as f32, y as f32, obj.centre, 8);
        for x in xs..xe {
            let mut acc = [0.0f32; 3];
            for sy in 0..ss {
                for sx in 0..ss {
                    let fx = x as f32 + (sx as f32 + 0.5) / ss as f32 - 0.5;
                    let fy = y as f32 + (sy as f32 + 0.5) / ss as f32 - 0.5;
                    let (u, v) = match &hinv {
                        Some(h) => {
                            let wz = h[2][0] * fx + h[2][1] * fy + h[2][2];
                            (
                                (h[0][0] * fx + h[0][1] * fy + h[0][2]) / wz + obj.centre.0,
                                (h[1][0] * fx + h[1][1] * fy + h[1][2]) / wz + obj.centre.1,
                            )
                        }
                        None => {
                            prev = obj.unproject(cam, pose, &r, fx, fy, prev, 3);
                            prev
                        }
                    };
                    let c = match obj.tex.sample(u, v) {
                        Some(c) => match shade {
                            Some(f) => {
                                let g = f(u, v);
                                [c[0] * g, c[1] * g, c[2] * g]
                            }
                            None => c,
                        },
                        None => background[y * cam.w + x],
                    };
                    acc[0] += c[0];
                    acc[1] += c[1];
                    acc[2] += c[2];
                }
            }
            out[y * cam.w + x] = [acc[0] / n, acc[1] / n, acc[2] / n];
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Camera effects

fn blur(img: &mut [[f32; 3]], w: usize, h: usize, sigma: f32) {
    if sigma < 0.05 {
        return;
    }
    let rad = (sigma * 3.0).ceil() as i64;
    let kernel: Vec<f32> = (-rad..=rad).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let mut tmp = vec![[0.0f32; 3]; w * h];
    blur_pass(img, &mut tmp, w, h, &kernel, true);
    blur_pass(&tmp, img, w, h, &kernel, false);
}

/// One direction of the separable blur (rows when `horizontal`, else columns), edges clamped;
/// `kernel` has 2·rad + 1 taps.
fn blur_pass(src: &[[f32; 3]], dst: &mut [[f32; 3]], w: usize, h: usize, kernel: &[f32], horizontal: bool) {
    let rad = (kernel.len() / 2) as i64;
    let ksum: f32 = kernel.iter().sum();
    for y in 0..h {
        for x in 0..w {
            let mut a = [0.0; 3];
            for (j, kv) in kernel.iter().enumerate() {
                let i = if horizontal {
                    y * w + (x as i64 + j as i64 - rad).clamp(0, w as i64 - 1) as usize
                } else {
                    (y as i64 + j as i64 - rad).clamp(0, h as i64 - 1) as usize * w + x
                };
                for c in 0..3 {
                    a[c] += src[i][c] * kv;
                }
            }
            dst[y * w + x] = [a[0] / ksum, a[1] / ksum, a[2] / ksum];
        }
    }
}

/// Light gain/colour, blur, noise, quantisation and optional JPEG round trip.
#[allow(clippy::too_many_arguments)]
fn camera_out(
    mut img: Vec<[f32; 3]>,
    w: usize,
    h: usize,
    gain: [f32; 3],
    blur_sigma: f32,
    noise: f32,
    jpeg: Option<u8>,
    rng: &mut Rng,
) -> RgbFrame {
    blur(&mut img, w, h, blur_sigma);
    let mut data = Vec::with_capacity(w * h * 3);
    for p in &img {
        for c in 0..3 {
            data.push((p[c] * gain[c] + noise * rng.gauss()).round().clamp(0.0, 255.0) as u8);
        }
    }
    if let Some(q) = jpeg {
        data = jpeg_round_trip(&data, w, h, q).unwrap_or(data);
    }
    RgbFrame { width: w, height: h, data }
}

/// Encodes and decodes RGB bytes as JPEG at `quality` (1…100).
pub fn jpeg_round_trip(rgb: &[u8], w: usize, h: usize, quality: u8) -> Result<Vec<u8>, String> {
    use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
    use image::ImageDecoder;
    let mut buf = Vec::new();
    JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100))
        .encode(rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    let dec = JpegDecoder::new(std::io::Cursor::new(&buf)).map_err(|e| e.to_string())?;
    let mut out = vec![0u8; dec.total_bytes() as usize];
    dec.read_image(&mut out).map_err(|e| e.to_string())?;
    if out.len() != rgb.len() {
        return Err(format!("JPEG round trip gave {} bytes for {}", out.len(), rgb.len()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Scenes

/// Head or sheet motion over the sequence: smooth sines with random phases and a drift.
fn poses(p: &Perturb, rng: &mut Rng, amp: f32, base_scale: f32) -> Vec<Pose> {
    let n = p.frames.max(1);
    let ph: Vec<f32> = (0..5).map(|_| rng.range(0.0, std::f32::consts::TAU)).collect();
    let dir = rng.sign();
    // A 2 % approach over the sequence, unless the scene is still.
    let zoom = if p.shift_px > 0.0 { 0.02 } else { 0.0 };
    (0..n)
        .map(|i| {
            let t = i as f32 / (n.max(2) - 1) as f32;
            // The yaw sweeps from one side to the other (the user turns the head as asked);
            // the rest wobbles.
            Pose {
                yaw: amp * p.yaw_deg * dir * (t * 2.0 - 1.0) * 0.5 + 0.0 * ph[0],
                pitch: amp * p.pitch_deg * (std::f32::consts::PI * t + ph[1]).sin() * 0.5,
                roll: amp * p.roll_deg * (std::f32::consts::PI * t + ph[2]).sin() * 0.5,
                tx: p.shift_px * (std::f32::consts::PI * t + ph[3]).sin(),
                ty: p.shift_px * 0.6 * (std::f32::consts::PI * t + ph[4]).sin(),
                scale: base_scale * (1.0 + zoom * (t - 0.5)),
            }
        })
        .collect()
}

fn jitter_box(pts: &[Point], jitter: f32, rng: &mut Rng) -> Rect {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in pts {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    let mut j = || jitter * (rng.unit() * 2.0 - 1.0);
    Rect {
        left: (x0 + j()).round() as i32,
        top: (y0 + j()).round() as i32,
        right: (x1 + j()).round() as i32,
        bottom: (y1 + j()).round() as i32,
    }
}

fn box_corners(photo: &GreyImage) -> [(f32, f32); 4] {
    let (sx, sy) = (photo.width as f32 / 378.0, photo.height as f32 / 472.0);
    let b = PHOTO_FACE_BOX;
    [
        (b.left as f32 * sx, b.top as f32 * sy),
        (b.right as f32 * sx, b.top as f32 * sy),
        (b.left as f32 * sx, b.bottom as f32 * sy),
        (b.right as f32 * sx, b.bottom as f32 * sy),
    ]
}

fn photo_landmarks(photo: &GreyImage) -> [(f32, f32); 5] {
    let (sx, sy) = (photo.width as f32 / 378.0, photo.height as f32 / 472.0);
    PHOTO_LANDMARKS.map(|p| (p.x * sx, p.y * sy))
}

/// The live head in its room: frames (before the camera effects) and ground truth.
struct LiveRender {
    frames: Vec<Vec<[f32; 3]>>,
    boxes: Vec<[Point; 4]>,
    landmarks: Vec<[Point; 5]>,
    poses: Vec<Pose>,
}

fn render_live(photo: &GreyImage, p: &Perturb, w: usize, h: usize, seed: u64) -> LiveRender {
    let mut rng = Rng::new(seed ^ 0x11fe);
    let tex = photo_texture(photo, Part::Head);
    let body_tex = photo_texture(photo, Part::Shoulders);
    let depth = head_depth(photo);
    let face_w = (PHOTO_FACE_BOX.width() as f32) * photo.width as f32 / 378.0;
    let scale = p.face_px * (w as f32 / p.width as f32) / face_w;
    let obj = Object::head(photo, &tex, &depth);
    let cam = Camera { w, h, dist: 3.5 * p.face_px * (w as f32 / p.width as f32) };
    let bg = room(w, h, seed);
    let poses = poses(p, &mut rng, 1.0, scale);
    let mut out = LiveRender { frames: vec![], boxes: vec![], landmarks: vec![], poses: poses.clone() };
    // A soft key light from the upper left that the head turns under (shading follows the
    // surface normal of the depth map, so it changes with the pose).
    let (dw, dh) = (photo.width, photo.height);
    for pose in &poses {
        let r = rotation(pose);
        let light = [-0.35f32, -0.3, 0.89];
        let shade = |u: f32, v: f32| -> f32 {
            let x = (u.round() as i64).clamp(1, dw as i64 - 2) as usize;
            let y = (v.round() as i64).clamp(1, dh as i64 - 2) as usize;
            let gx = (depth[y * dw + x + 1] - depth[y * dw + x - 1]) * 0.5;
            let gy = (depth[(y + 1) * dw + x] - depth[(y - 1) * dw + x]) * 0.5;
            let n = [-gx, -gy, 1.0];
            let nl = (n[0] * n[0] + n[1] * n[1] + 1.0).sqrt();
            let nr: [f32; 3] = core::array::from_fn(|i| (0..3).map(|j| r[i][j] * n[j]).sum::<f32>() / nl);
            let lam = (nr[0] * light[0] + nr[1] * light[1] + nr[2] * light[2]).max(0.0);
            0.8 + 0.25 * lam
        };
        // The shoulders turn a fifth as much as the head (the head turns on the neck).
        let body = Object { tex: &body_tex, depth: None, ..obj };
        let body_pose = Pose { yaw: pose.yaw * 0.2, pitch: pose.pitch * 0.2, roll: pose.roll * 0.2, ..*pose };
        let with_body = render_object(&cam, &body, &body_pose, &bg, 1, None);
        out.frames.push(render_object(&cam, &obj, pose, &with_body, 1, Some(&shade)));
        let corners = box_corners(photo);
        // The box is projected at the depth of the cheeks (the detector's box sits on the
        // face, not on the nose tip).
        let cheek = 0.6 * obj.depth_at(obj.centre.0, obj.centre.1);
        out.boxes.push(corners.map(|(u, v)| {
            let (x, y, _) = obj.project(&cam, pose, &r, u, v, cheek);
            Point { x, y }
        }));
        out.landmarks.push(photo_landmarks(photo).map(|(u, v)| obj.project_texel(&cam, pose, u, v)));
    }
    out
}

/// A printed sheet of the photo: border, lifted blacks, weak halftone, paper grain.
fn print_texture(photo: &GreyImage, seed: u64) -> (Texture, f32) {
    let mut rng = Rng::new(seed ^ 0x9a9e);
    let border = (photo.width as f32 * 0.06) as usize;
    let (w, h) = (photo.width + 2 * border, photo.height + 2 * border);
    let mut t = Texture::new(w, h);
    let paper = rng.range(225.0, 245.0);
    let contrast = rng.range(0.7, 0.85);
    let black = rng.range(20.0, 40.0);
    for y in 0..h {
        for x in 0..w {
            let grain = 5.0 * (rng.unit() - 0.5);
            let c = if x >= border && y >= border && x < border + photo.width && y < border + photo.height {
                let g = photo.data[(y - border) * photo.width + (x - border)] as f32;
                let dot = ((x as f32 * 1.9).sin() * (y as f32 * 1.9).sin()) * 8.0;
                let g = black + contrast * g + dot;
                let tt = tint(g);
                [tt[0] + grain, tt[1] + grain, tt[2] + grain]
            } else {
                [paper + grain, paper + grain, paper * 0.97 + grain]
            };
            t.rgb[y * w + x] = c;
        }
    }
    (t, border as f32)
}

/// A screen showing `content` (f32 RGB, cw×ch): bezel, sub-pixel stripes, black matrix, gamma
/// and colour shift. Returns the texture (in screen texels) and the texel offset of the
/// content's (0, 0) and the texels per content pixel.
fn screen_texture(content: &[[f32; 3]], cw: usize, ch: usize, seed: u64) -> (Texture, f32, f32) {
    let mut rng = Rng::new(seed ^ 0x5c4e);
    // Screen texels: 3 per display pixel (one per sub-pixel stripe), display pixels per content
    // pixel chosen so the pitch seen by the camera is near its own pixel pitch.
    let dpp = 1usize; // display pixels per content pixel
    let sub = 3usize;
    let bezel = (cw as f32 * 0.06) as usize * sub;
    let (w, h) = (cw * dpp * sub + 2 * bezel, ch * dpp * sub + 2 * bezel);
    let mut t = Texture::new(w, h);
    let gamma = rng.range(1.05, 1.3);
    let shift = [rng.range(0.85, 0.95), rng.range(0.95, 1.0), rng.range(1.02, 1.12)];
    let black = rng.range(12.0, 28.0);
    let bez = rng.range(15.0, 35.0);
    for y in 0..h {
        for x in 0..w {
            if x < bezel || y < bezel || x >= w - bezel || y >= h - bezel {
                t.rgb[y * w + x] = [bez, bez, bez];
                continue;
            }
            let (dx, dy) = ((x - bezel) / sub, (y - bezel) / sub);
            let c = content[(dy / dpp).min(ch - 1) * cw + (dx / dpp).min(cw - 1)];
            let stripe = (x - bezel) % sub;
            // Black matrix: the last texel row of each display pixel is dark.
            let matrix = if (y - bezel) % sub == sub - 1 { 0.35 } else { 1.0 };
            let mut o = [0.0f32; 3];
            let v = 255.0 * (c[stripe].clamp(0.0, 255.0) / 255.0).powf(gamma) * shift[stripe];
            // The stripe carries its channel at three times the intensity (the camera averages
            // the three back to the pixel's colour).
            o[stripe] = (black + v) * 3.0 * matrix;
            t.rgb[y * w + x] = o;
        }
    }
    (t, bezel as f32, (dpp * sub) as f32)
}

/// Renders a sequence of `kind` with the perturbations `p`.
pub fn render_sequence(photo: &GreyImage, kind: SceneKind, p: &Perturb) -> Sequence {
    let (w, h) = (p.width, p.height);
    let mut rng = Rng::new(p.seed ^ 0xca3e_0000 ^ kind as u64);
    let mut boxes_pts: Vec<[Point; 4]> = vec![];
    let mut lms: Vec<[Point; 5]> = vec![];
    let mut scenes: Vec<Vec<[f32; 3]>> = vec![];
    let pose_list: Vec<Pose>;
    let bg = room(w, h, p.seed ^ 0xbeef);
    match kind {
        SceneKind::Live => {
            let l = render_live(photo, p, w, h, p.seed);
            scenes = l.frames;
            boxes_pts = l.boxes;
            lms = l.landmarks;
            pose_list = l.poses;
        }
        SceneKind::FlatPrint | SceneKind::ScreenPhoto => {
            let (tex, off, per) = if kind == SceneKind::FlatPrint {
                let (t, b) = print_texture(photo, p.seed);
                (t, b, 1.0)
            } else {
                let content: Vec<[f32; 3]> = photo.data.iter().map(|&g| tint(g as f32)).collect();
                screen_texture(&content, photo.width, photo.height, p.seed)
            };
            let face_w = PHOTO_FACE_BOX.width() as f32 * photo.width as f32 / 378.0 * per;
            let obj = Object {
                tex: &tex,
                depth: None,
                centre: (tex.w as f32 * 0.5, tex.h as f32 * 0.52),
                k: 1.0,
                pivot_z: 0.0,
            };
            let cam = Camera { w, h, dist: 3.5 * p.face_px };
            // A print is waved about more than a screen.
            let amp = if kind == SceneKind::FlatPrint { 1.0 } else { 0.7 };
            pose_list = poses(p, &mut rng, amp, p.face_px / face_w);
            let ss = if kind == SceneKind::FlatPrint { 1 } else { 3 };
            for pose in &pose_list {
                scenes.push(render_object(&cam, &obj, pose, &bg, ss, None));
                let to_tex = |(u, v): (f32, f32)| (off + u * per, off + v * per);
                boxes_pts.push(box_corners(photo).map(|c| {
                    let (u, v) = to_tex(c);
                    obj.project_texel(&cam, pose, u, v)
                }));
                lms.push(photo_landmarks(photo).map(|c| {
                    let (u, v) = to_tex(c);
                    obj.project_texel(&cam, pose, u, v)
                }));
            }
        }
        SceneKind::ScreenVideo => {
            // The video: the live renderer at the screen's resolution, its own room and head
            // motion; the face fills about the same share of the video as of our frame.
            let (cw, ch) = (w * 3 / 4, h * 3 / 4);
            let video = render_live(photo, p, cw, ch, p.seed ^ 0x1de0);
            let vframes: Vec<Vec<[f32; 3]>> = video.frames;
            let content0 = &vframes[0];
            let (tex0, off, per) = screen_texture(content0, cw, ch, p.seed);
            // Face width in screen texels, to size the screen in the frame.
            let vb = &video.boxes[0];
            let face_w_content = (vb[1].x - vb[0].x).abs();
            let face_w = face_w_content * per;
            let scale = p.face_px / face_w;
            let cam = Camera { w, h, dist: 3.5 * p.face_px };
            // A screen held in the hand (moving little) or standing still.
            let amp = if rng.unit() < 0.5 { 0.3 } else { 0.0 };
            let held = Perturb { shift_px: p.shift_px * amp, ..p.clone() };
            pose_list = poses(&held, &mut rng, amp, scale);
            for (i, pose) in pose_list.iter().enumerate() {
                let (tex, _, _) = if i == 0 {
                    (tex0.clone(), off, per)
                } else {
                    screen_texture(&vframes[i], cw, ch, p.seed)
                };
                let obj = Object {
                    tex: &tex,
                    depth: None,
                    centre: (tex.w as f32 * 0.5, tex.h as f32 * 0.5),
                    k: 1.0,
                    pivot_z: 0.0,
                };
                scenes.push(render_object(&cam, &obj, pose, &bg, 3, None));
                let to_frame = |pt: &Point| obj.project_texel(&cam, pose, off + pt.x * per, off + pt.y * per);
                boxes_pts.push(core::array::from_fn(|j| to_frame(&video.boxes[i][j])));
                lms.push(core::array::from_fn(|j| to_frame(&video.landmarks[i][j])));
            }
        }
    }
    // Camera: per-frame light, then blur, noise, JPEG.
    let mut frames = vec![];
    let mut boxes = vec![];
    let temp = rng.range(-0.04, 0.04);
    for (i, scene) in scenes.into_iter().enumerate() {
        let g = 1.0 + p.light * (rng.unit() * 2.0 - 1.0);
        let t = temp + 0.3 * p.light * (rng.unit() * 2.0 - 1.0);
        let gain = [g * (1.0 + t), g, g * (1.0 - t)];
        frames.push(camera_out(scene, w, h, gain, p.blur, p.noise, p.jpeg_quality, &mut rng));
        boxes.push(jitter_box(&boxes_pts[i], p.box_jitter, &mut rng));
    }
    Sequence { kind, frames, boxes, landmarks: lms, poses: pose_list }
}

// ---------------------------------------------------------------------------------------------
// Single genuine frames for the accuracy evaluation

/// One frame of the live face under given conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct StillParams {
    pub seed: u64,
    pub width: usize,
    pub height: usize,
    pub face_px: f32,
    pub pose: Pose,
    /// Light gain (1 = nominal).
    pub gain: f32,
    pub blur: f32,
    pub noise: f32,
    pub jpeg_quality: Option<u8>,
}

/// A frame with its ground truth and a label saying how it was made.
#[derive(Clone, Debug)]
pub struct LabelledFrame {
    pub frame: RgbFrame,
    pub face_box: Rect,
    pub landmarks: [Point; 5],
    pub label: String,
    pub params: StillParams,
}

/// Renders the live face once under `s` (the pose's `tx`, `ty` shift it; `scale` is ignored,
/// `face_px` sets the size).
pub fn render_still(photo: &GreyImage, s: &StillParams) -> LabelledFrame {
    let p = Perturb {
        seed: s.seed,
        frames: 1,
        width: s.width,
        height: s.height,
        yaw_deg: 0.0,
        pitch_deg: 0.0,
        roll_deg: 0.0,
        shift_px: 0.0,
        face_px: s.face_px,
        light: 0.0,
        blur: s.blur,
        noise: s.noise,
        jpeg_quality: s.jpeg_quality,
        box_jitter: 0.0,
    };
    let (w, h) = (s.width, s.height);
    let tex = photo_texture(photo, Part::Head);
    let body_tex = photo_texture(photo, Part::Shoulders);
    let depth = head_depth(photo);
    let face_w = PHOTO_FACE_BOX.width() as f32 * photo.width as f32 / 378.0;
    let obj = Object::head(photo, &tex, &depth);
    let cam = Camera { w, h, dist: 3.5 * p.face_px };
    let pose = Pose { scale: p.face_px / face_w, ..s.pose };
    let bg = room(w, h, s.seed);
    let body = Object { tex: &body_tex, depth: None, ..obj };
    let body_pose = Pose { yaw: pose.yaw * 0.2, pitch: pose.pitch * 0.2, roll: pose.roll * 0.2, ..pose };
    let with_body = render_object(&cam, &body, &body_pose, &bg, 1, None);
    let scene = render_object(&cam, &obj, &pose, &with_body, 1, None);
    let r = rotation(&pose);
    let cheek = 0.6 * obj.depth_at(obj.centre.0, obj.centre.1);
    let corners = box_corners(photo).map(|(u, v)| {
        let (x, y, _) = obj.project(&cam, &pose, &r, u, v, cheek);
        Point { x, y }
    });
    let landmarks = photo_landmarks(photo).map(|(u, v)| obj.project_texel(&cam, &pose, u, v));
    let mut rng = Rng::new(s.seed ^ 0x571);
    let frame = camera_out(scene, w, h, [s.gain; 3], s.blur, s.noise, s.jpeg_quality, &mut rng);
    let label = format!(
        "yaw {:+.0}° pitch {:+.0}° roll {:+.0}° gain {:.2} blur {:.1} noise {:.1} jpeg {}",
        s.pose.yaw,
        s.pose.pitch,
        s.pose.roll,
        s.gain,
        s.blur,
        s.noise,
        s.jpeg_quality.map(|q| q.to_string()).unwrap_or_else(|| "none".into())
    );
    LabelledFrame {
        frame,
        face_box: jitter_box(&corners, 0.0, &mut rng),
        landmarks,
        label,
        params: s.clone(),
    }
}

/// `n` genuine frames of the fixture face with seeded random conditions: yaw ±20°, pitch ±12°,
/// roll ±10°, light gain 0.6…1.3, blur σ 0…1.5, noise σ 0…6, JPEG quality 40…95 or raw; 320×240
/// (every fourth 640×480), face 90…150 px (scaled for 640×480).
pub fn genuine_stills(photo: &GreyImage, seed: u64, n: usize) -> Vec<LabelledFrame> {
    let mut r = Rng::new(seed ^ 0x9e2);
    (0..n)
        .map(|i| {
            let big = i % 4 == 3;
            let (w, h) = if big { (640, 480) } else { (320, 240) };
            let f = if big { 2.0 } else { 1.0 };
            let s = StillParams {
                seed: seed.wrapping_mul(1000).wrapping_add(i as u64),
                width: w,
                height: h,
                face_px: r.range(90.0, 150.0) * f,
                pose: Pose {
                    yaw: r.range(-20.0, 20.0),
                    pitch: r.range(-12.0, 12.0),
                    roll: r.range(-10.0, 10.0),
                    tx: r.range(-25.0, 25.0) * f,
                    ty: r.range(-12.0, 12.0) * f,
                    scale: 1.0,
                },
                gain: r.range(0.6, 1.3),
                blur: r.range(0.0, 1.5),
                noise: r.range(0.0, 6.0),
                jpeg_quality: if r.unit() < 0.25 { None } else { Some(r.range(40.0, 95.0) as u8) },
            };
            render_still(photo, &s)
        })
        .collect()
}
