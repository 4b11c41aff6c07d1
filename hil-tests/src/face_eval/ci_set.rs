//! The evaluation set the project can make itself, in LFW layout (`ROOT/name/name_000N.png`,
//! `pairs.txt`) plus attack presentations (`ROOT/attacks/<species>_<n>/frame_N.png`,
//! `attacks.txt`). Every image is written as PNG, so that our engine and dlib's read the very
//! same pixels.
//!
//! - `fixture`: the fixture card's chip photo (image 1, the enrolment) and renders of that face
//!   as a live camera sees it: pose, light, blur, noise and compression
//!   ([`face_scenes::genuine_stills`]);
//! - `obama` (three photos), `biden`, `hopper`, `collins`: public-domain portraits shipped in
//!   packages (`scripts/face-eval-sources.sh`), scaled to at most 640 px;
//! - attacks: sequences of a flat print, a screen showing the photo and a screen playing a
//!   video of the face, and bona fide live sequences ([`face_scenes::render_sequence`]).

use super::pairs::{ImageId, Pair};
use crate::face_scenes::{self, GreyImage, Perturb, SceneKind};
use std::path::Path;

pub const LIMITS: &str = "five identities only (the fixture card holder, Obama, Biden, Hopper, Collins); \
the fixture's genuine pairs compare the chip photo with synthetic renders of that same photo \
(a depth-warped 3-D head under pose, light, blur, noise and JPEG), not with a second capture of \
the person, so they measure robustness to capture conditions, not ageing or expression; \
138 impostor pairs between very different people, so an observed FMR of 0 bounds the true FMR \
only below about 2 % (3/138, 95 % confidence); attacks are simulated (rendered print and screen replays)";

/// Genuine renders of the fixture face.
pub const FIXTURE_RENDERS: usize = 20;
/// Presentations per attack species and bona fide.
pub const PRESENTATIONS: usize = 8;

const SOURCES: [(&str, u32, &str); 6] = [
    ("obama", 1, "obama_1.jpg"),
    ("obama", 2, "obama_2.jpg"),
    ("obama", 3, "obama_3.jpg"),
    ("biden", 1, "biden_1.jpg"),
    ("hopper", 1, "hopper_1.jpg"),
    ("collins", 1, "collins_1.png"),
];

/// What was made: the pairs and the attack presentations (species, frame directory).
pub struct Made {
    pub pairs: Vec<Pair>,
    pub attacks: Vec<(String, std::path::PathBuf)>,
}

fn save(root: &Path, id: &ImageId, img: &image::RgbImage) -> Result<(), String> {
    let dir = root.join(&id.name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let p = dir.join(format!("{id}.png"));
    img.save(&p).map_err(|e| format!("{}: {e}", p.display()))
}

fn grey_to_rgb(g: &GreyImage) -> image::RgbImage {
    image::RgbImage::from_fn(g.width as u32, g.height as u32, |x, y| {
        let v = g.data[y as usize * g.width + x as usize];
        image::Rgb([v, v, v])
    })
}

fn frame_to_rgb(f: &face_scenes::RgbFrame) -> Result<image::RgbImage, String> {
    image::RgbImage::from_raw(f.width as u32, f.height as u32, f.data.clone())
        .ok_or_else(|| "a frame of the wrong size".to_string())
}

/// Writes the set under `root` (made afresh) from the portraits in `sources`.
pub fn make(sources: &Path, root: &Path) -> Result<Made, String> {
    if root.exists() {
        std::fs::remove_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    }
    let photo = face_scenes::fixture_photo()?;
    let fixture = |n| ImageId { name: "fixture".into(), number: n };
    save(root, &fixture(1), &grey_to_rgb(&photo))?;
    let mut labels = String::from("fixture_0001\tthe fixture card's chip photo (enrolment)\n");
    for (i, still) in face_scenes::genuine_stills(&photo, 6, FIXTURE_RENDERS).iter().enumerate() {
        let id = fixture(i as u32 + 2);
        save(root, &id, &frame_to_rgb(&still.frame)?)?;
        labels += &format!("{id}\trender of the fixture face: {}\n", still.label);
    }
    let mut others = Vec::new();
    for (name, n, file) in SOURCES {
        let p = sources.join(file);
        let img = image::open(&p)
            .map_err(|e| format!("{}: {e} (scripts/face-eval-sources.sh fetches it)", p.display()))?
            .to_rgb8();
        let img = if img.width().max(img.height()) > 640 {
            let s = 640.0 / img.width().max(img.height()) as f32;
            let (w, h) = ((img.width() as f32 * s).round() as u32, (img.height() as f32 * s).round() as u32);
            image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle)
        } else {
            img
        };
        let id = ImageId { name: name.into(), number: n };
        save(root, &id, &img)?;
        labels += &format!(
            "{id}\t{file} from a package, public domain, scaled to {}×{}\n",
            img.width(),
            img.height()
        );
        others.push(id);
    }
    std::fs::write(root.join("labels.txt"), labels).map_err(|e| format!("labels.txt: {e}"))?;
    std::fs::write(root.join("LIMITS.txt"), LIMITS).map_err(|e| format!("LIMITS.txt: {e}"))?;

    let mut pairs = Vec::new();
    let mut push = |a: &ImageId, b: &ImageId| {
        let line = pairs.len() + 2;
        pairs.push(Pair { a: a.clone(), b: b.clone(), genuine: a.name == b.name, line });
    };
    let fixtures: Vec<ImageId> = (1..=FIXTURE_RENDERS as u32 + 1).map(fixture).collect();
    for f in &fixtures[1..] {
        push(&fixtures[0], f);
    }
    for (i, a) in others.iter().enumerate() {
        for b in &others[i + 1..] {
            push(a, b);
        }
    }
    for f in &fixtures {
        for o in &others {
            push(f, o);
        }
    }
    std::fs::write(root.join("pairs.txt"), super::pairs::write(&pairs))
        .map_err(|e| format!("pairs.txt: {e}"))?;

    let mut attacks = Vec::new();
    let mut list = String::new();
    for kind in SceneKind::ALL {
        let species = match kind {
            SceneKind::Live => "bona-fide",
            SceneKind::FlatPrint => "print",
            SceneKind::ScreenPhoto => "screen-photo",
            SceneKind::ScreenVideo => "screen-video",
        };
        for n in 0..PRESENTATIONS {
            let seq = face_scenes::render_sequence(&photo, kind, &Perturb::standard(7000 + n as u64));
            let dir = root.join("attacks").join(format!("{species}_{n}"));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for (i, f) in seq.frames.iter().enumerate() {
                let p = dir.join(format!("frame_{i}.png"));
                frame_to_rgb(f)?.save(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            }
            list += &format!("{species}\tattacks/{species}_{n}\n");
            attacks.push((species.to_string(), dir));
        }
    }
    std::fs::write(root.join("attacks.txt"), list).map_err(|e| format!("attacks.txt: {e}"))?;
    Ok(Made { pairs, attacks })
}

/// Reads `attacks.txt` (`species<TAB>dir relative to the file`) and each directory's frames in
/// name order.
pub fn read_attacks(path: &Path) -> Result<Vec<super::report::AttackSet>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut sets = Vec::new();
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (species, dir) = l
            .split_once('\t')
            .ok_or_else(|| format!("{}:{}: `species<TAB>dir` expected", path.display(), i + 1))?;
        let dir = base.join(dir.trim());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "png" || x == "jpg"))
            .collect();
        files.sort_by_key(|p| {
            // frame_10 after frame_9
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let n: u64 = stem.rsplit('_').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
            (n, p.clone())
        });
        let frames = files
            .iter()
            .map(|p| image::open(p).map(|i| i.to_rgb8()).map_err(|e| format!("{}: {e}", p.display())))
            .collect::<Result<Vec<_>, _>>()?;
        if frames.is_empty() {
            return Err(format!("{}: no frames", dir.display()));
        }
        sets.push(super::report::AttackSet { species: species.trim().to_string(), frames });
    }
    Ok(sets)
}
