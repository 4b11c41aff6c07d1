//! Screens render to 480×320 PNG with Japanese glyphs (no tofu) for every screen the session
//! core can show. Needs Debian's fonts-noto-cjk (scripts/setup.sh installs it).

use shikaku_firmware::session::Screen;
use shikaku_hil::render::{self, Renderer};
use shikaku_protocol::message::ErrorCode;

/// One of every screen (the screen model's examples) plus the variants whose text differs.
fn every_screen() -> Vec<Screen> {
    let mut v = Screen::examples().to_vec();
    v.push(Screen::ChooseMethod { face: true, pin: false });
    for code in [ErrorCode::CERT_EXPIRED_PAST_GRACE, ErrorCode::PIN_LOCKED, ErrorCode::SESSION_TIMEOUT] {
        v.push(Screen::Error { code, remedy: code.remedy() });
    }
    v
}

#[test]
fn every_screen_renders_with_japanese_glyphs() {
    let r = Renderer::new().unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("shikaku-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for screen in every_screen() {
        for text in Renderer::texts(&screen) {
            assert!(
                r.missing_glyphs(&text).is_empty(),
                "{screen:?}: no glyph for {:?}",
                r.missing_glyphs(&text)
            );
        }
        let img = r.render(&screen);
        assert_eq!(img.dimensions(), (render::WIDTH, render::HEIGHT));
        // Ink in the body area (below the title band): the Japanese body or the detail line.
        let inked =
            (80..HEIGHT_BODY).flat_map(|y| (0..render::WIDTH).map(move |x| (x, y))).filter(|&(x, y)| {
                let p = img.get_pixel(x, y).0;
                p[0] < 128 && p[1] < 128 && p[2] < 128
            });
        assert!(screen.ja().1.is_empty() || inked.count() > 50, "{screen:?}: nothing drawn in the body");
        let path = dir.join(format!("{}.png", render::screen_name(&screen)));
        r.save_png(&screen, &path).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 1_000);
    }
    std::fs::remove_dir_all(&dir).ok();
}

const HEIGHT_BODY: u32 = 200;

#[test]
fn the_detail_line_shows_dots_and_codes_never_digits() {
    let (ja, en) = render::detail_text(&Screen::PinEntry { entered: 3, tries_left: 2 }).unwrap();
    assert_eq!(ja, "●●●○  残り2回");
    assert_eq!(en, "3 of 4 digits, 2 tries left");
    let code = ErrorCode::CERT_EXPIRED_PAST_GRACE;
    let (ja, en) = render::detail_text(&Screen::Error { code, remedy: code.remedy() }).unwrap();
    assert!(ja.starts_with("エラー E104") && ja.contains("資格確認書"), "{ja}");
    assert!(en.starts_with("Error E104"), "{en}");
    assert_eq!(render::screen_name(&Screen::PinEntry { entered: 0, tries_left: 3 }), "PinEntry");
    assert_eq!(render::screen_name(&Screen::PlaceCard), "PlaceCard");
}
