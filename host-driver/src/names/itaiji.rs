//! The 異体字 table: name characters outside JIS X 0208 and the standard form that replaces each
//! in a Shift_JIS file.
//!
//! Sources (compiled by hand; membership of every entry in or out of JIS X 0208 / CP932 is not
//! taken on trust but checked by `tests/names_itaiji.rs` against `encoding_rs`, i.e. the WHATWG
//! Encoding Standard's `index-jis0208`):
//!
//! * the well-known name variants that survey respondents see as ●: 髙 (はしご高), 﨑 (たつさき),
//!   𠮷 (つちよし), 𡈽 (点付き土), 濵, 栁, 桒, 昻, 曻, 瀨, 槗, 凞;
//! * 戸籍法施行規則 別表第二 (人名用漢字) part 二, the old forms of 常用漢字 allowed in given names,
//!   for those that JIS X 0208 lacks: 德 步 每 淸 靑 綠 錄 寬 黑 增 橫 緖 賴 涉 溫 狀 硏 禱 蟬 虛 說 郞 悅 …;
//! * the 2010 常用漢字表 characters whose printed form is outside JIS X 0208 (𠮟 塡 剝 頰 摑) and
//!   other 表外漢字字体表 印刷標準字体 forms (鷗 蔣 姬 黃 驒 吞 顚 麵 鬭 簞 淚 渴 歲);
//! * the CJK Compatibility Ideographs U+F900–U+FA6A that have a canonical decomposition to a JIS
//!   X 0208 kanji (Unicode `UnicodeData.txt`), written here as `\u{…}` escapes because editors
//!   and tools normalise them away. Several of them (塚 U+FA10, 神 U+FA19, 隆 U+F9DC, …) are IBM
//!   extensions in CP932 and pass unchanged with [`super::Charset::Cp932`].
//!
//! Deliberately *not* here: 邉 and 邊 (both are in JIS X 0208, 0xE7B3 / 0xE7B2, so they are never
//! replaced — replacing them by 辺 would change a name that the target set can write), and
//! characters whose only "substitute" is a different character rather than a glyph variant
//! (彅 in 草彅 is not 薙; 琇 has no standard form): those stay ● with the flag, and the original
//! is in the file as a character reference.

/// `(variant, standard form)`. The standard form is always in JIS X 0208.
pub static ITAIJI: &[(char, &str)] = &[
    // Name variants in the IBM extensions of CP932 (not in JIS X 0208).
    ('髙', "高"),
    ('\u{FA11}', "崎"), // 﨑
    ('\u{FA14}', "欅"), // 﨔
    ('德', "徳"),
    ('濵', "濱"),
    ('栁', "柳"),
    ('桒', "桑"),
    ('昻', "昂"),
    ('曻', "昇"),
    ('瀨', "瀬"),
    ('黑', "黒"),
    ('增', "増"),
    ('淸', "清"),
    ('靑', "青"),
    ('鄕', "郷"),
    ('寬', "寛"),
    ('綠', "緑"),
    ('橫', "横"),
    ('緖', "緒"),
    ('賴', "頼"),
    ('閒', "間"),
    ('郞', "郎"),
    ('悅', "悦"),
    ('敎', "教"),
    ('薰', "薫"),
    ('羡', "羨"),
    ('甁', "瓶"),
    ('冝', "宜"),
    // Not encodable in CP932 at all.
    ('𠮷', "吉"),
    ('𡈽', "土"),
    ('凞', "熙"),
    ('槗', "橋"),
    ('鷗', "鴎"),
    ('塡', "填"),
    ('剝', "剥"),
    ('頰', "頬"),
    ('𠮟', "叱"),
    ('摑', "掴"),
    ('錄', "録"),
    ('蔣', "蒋"),
    ('姬', "姫"),
    ('黃', "黄"),
    ('驒', "騨"),
    ('吞', "呑"),
    ('步', "歩"),
    ('歲', "歳"),
    ('每', "毎"),
    ('涉', "渉"),
    ('淚', "涙"),
    ('渴', "渇"),
    ('溫', "温"),
    ('狀', "状"),
    ('硏', "研"),
    ('禱', "祷"),
    ('簞', "箪"),
    ('蟬', "蝉"),
    ('虛', "虚"),
    ('說', "説"),
    ('顚', "顛"),
    ('麵', "麺"),
    ('鬭', "闘"),
    // CJK Compatibility Ideographs with a canonical decomposition into JIS X 0208.
    ('\u{F929}', "朗"),
    ('\u{F9DC}', "隆"),
    ('\u{FA10}', "塚"),
    ('\u{FA12}', "晴"),
    ('\u{FA15}', "熙"),
    ('\u{FA16}', "猪"),
    ('\u{FA17}', "益"),
    ('\u{FA18}', "礼"),
    ('\u{FA19}', "神"),
    ('\u{FA1A}', "祥"),
    ('\u{FA1B}', "福"),
    ('\u{FA1C}', "靖"),
    ('\u{FA1D}', "精"),
    ('\u{FA1E}', "羽"),
    ('\u{FA22}', "諸"),
    ('\u{FA25}', "逸"),
    ('\u{FA26}', "都"),
    ('\u{FA2A}', "飯"),
    ('\u{FA2B}', "飼"),
    ('\u{FA2C}', "館"),
    ('\u{FA2D}', "鶴"),
    ('\u{FA30}', "侮"),
    ('\u{FA31}', "僧"),
    ('\u{FA32}', "免"),
    ('\u{FA33}', "勉"),
    ('\u{FA34}', "勤"),
    ('\u{FA35}', "卑"),
    ('\u{FA36}', "喝"),
    ('\u{FA37}', "嘆"),
    ('\u{FA38}', "器"),
    ('\u{FA39}', "塀"),
    ('\u{FA3A}', "墨"),
    ('\u{FA3B}', "層"),
    ('\u{FA3D}', "悔"),
    ('\u{FA3E}', "慨"),
    ('\u{FA3F}', "憎"),
    ('\u{FA40}', "懲"),
    ('\u{FA41}', "敏"),
    ('\u{FA42}', "既"),
    ('\u{FA43}', "暑"),
    ('\u{FA44}', "梅"),
    ('\u{FA45}', "海"),
    ('\u{FA46}', "渚"),
    ('\u{FA47}', "漢"),
    ('\u{FA48}', "煮"),
    ('\u{FA4A}', "琢"),
    ('\u{FA4B}', "碑"),
    ('\u{FA4C}', "社"),
    ('\u{FA4D}', "祉"),
    ('\u{FA4E}', "祈"),
    ('\u{FA4F}', "祐"),
    ('\u{FA50}', "祖"),
    ('\u{FA51}', "祝"),
    ('\u{FA52}', "禍"),
    ('\u{FA53}', "禎"),
    ('\u{FA54}', "穀"),
    ('\u{FA55}', "突"),
    ('\u{FA56}', "節"),
    ('\u{FA57}', "練"),
    ('\u{FA58}', "縉"),
    ('\u{FA59}', "繁"),
    ('\u{FA5A}', "署"),
    ('\u{FA5B}', "者"),
    ('\u{FA5C}', "臭"),
    ('\u{FA5F}', "著"),
    ('\u{FA60}', "褐"),
    ('\u{FA61}', "視"),
    ('\u{FA62}', "謁"),
    ('\u{FA63}', "謹"),
    ('\u{FA64}', "賓"),
    ('\u{FA65}', "贈"),
    ('\u{FA67}', "逸"),
    ('\u{FA68}', "難"),
    ('\u{FA69}', "響"),
    ('\u{FA6A}', "頻"),
];

/// Code points that are the same character as a JIS X 0208 one but that Unicode ↔ Shift_JIS
/// tables disagree on (JIS vs. Microsoft mapping). `encoding_rs` follows CP932 (0x8160 is
/// U+FF5E), so text typed on a Mac or decoded by Java arrives with the JIS code point.
pub static MAPPING_DIFFERENCES: &[(char, &str)] = &[
    ('\u{301C}', "\u{FF5E}"), // 〜 WAVE DASH → ～
    ('\u{2016}', "\u{2225}"), // ‖ → ∥
    ('\u{2014}', "\u{2015}"), // — EM DASH → ―
    ('\u{00A2}', "\u{FFE0}"), // ¢ → ￠
    ('\u{00A3}', "\u{FFE1}"), // £ → ￡
    ('\u{00AC}', "\u{FFE2}"), // ¬ → ￢
    ('\u{2212}', "\u{FF0D}"), // − MINUS SIGN → －
    // Single-byte 0x5C / 0x7E mean ¥ / ‾ to a JIS X 0201 reader but \ / ~ to CP932 and
    // ASCII readers: write the unambiguous full-width forms.
    ('\u{00A5}', "\u{FFE5}"), // ¥ → ￥
    ('\u{203E}', "\u{FFE3}"), // ‾ → ￣
];
