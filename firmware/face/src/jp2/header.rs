//! The JP2 file format boxes (T.800 Annex I) and the codestream main and tile-part header
//! markers (Annex A) the decoder needs.

use super::Jp2Error;

/// Most components decoded (greyscale, or three for colour).
pub(crate) const MAX_COMPONENTS: usize = 3;
/// Most decomposition levels accepted (the standard allows 32; encoders default to 5).
pub(crate) const MAX_LEVELS: usize = 12;
/// Quantisation step entries: one for LL plus three per level.
const MAX_STEPS: usize = 3 * MAX_LEVELS + 1;

pub(crate) const SOC: u16 = 0xFF4F;
pub(crate) const SOT: u16 = 0xFF90;
pub(crate) const SOD: u16 = 0xFF93;
pub(crate) const EOC: u16 = 0xFFD9;
const SIZ: u16 = 0xFF51;
const COD: u16 = 0xFF52;
const COC: u16 = 0xFF53;
const TLM: u16 = 0xFF55;
const PLM: u16 = 0xFF57;
const PLT: u16 = 0xFF58;
const QCD: u16 = 0xFF5C;
const QCC: u16 = 0xFF5D;
const RGN: u16 = 0xFF5E;
const POC: u16 = 0xFF5F;
const PPM: u16 = 0xFF60;
const PPT: u16 = 0xFF61;
const CRG: u16 = 0xFF63;
const COM: u16 = 0xFF64;

const JP2_SIGNATURE: [u8; 12] = [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A];

pub(crate) fn be16(b: &[u8], at: usize) -> Result<u16, Jp2Error> {
    let s = b.get(at..at + 2).ok_or(Jp2Error::Truncated)?;
    Ok(u16::from_be_bytes([s[0], s[1]]))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Result<u32, Jp2Error> {
    let s = b.get(at..at + 4).ok_or(Jp2Error::Truncated)?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A box split off its input: (type, contents, rest).
type SplitBox<'a> = ([u8; 4], &'a [u8], &'a [u8]);

/// Splits one box off `input`.
fn next_box(input: &[u8]) -> Result<SplitBox<'_>, Jp2Error> {
    let len = be32(input, 0)? as usize;
    let kind: [u8; 4] =
        input.get(4..8).ok_or(Jp2Error::Truncated)?.try_into().map_err(|_| Jp2Error::Truncated)?;
    let (header, len) = match len {
        0 => (8, input.len()),
        1 => {
            let hi = be32(input, 8)? as usize;
            let lo = be32(input, 12)? as usize;
            if hi != 0 {
                return Err(Jp2Error::BadBox);
            }
            (16, lo)
        }
        l => (8, l),
    };
    if len < header {
        return Err(Jp2Error::BadBox);
    }
    if len > input.len() {
        return Err(Jp2Error::Truncated);
    }
    Ok((kind, &input[header..len], &input[len..]))
}

/// What the JP2 header box says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Jp2Boxes<'a> {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) components: u16,
    pub(crate) codestream: &'a [u8],
}

/// Finds the codestream: a JP2 file (signature, `ftyp`, `jp2h` with `ihdr` and `colr`,
/// `jp2c`) or a raw codestream starting with SOC.
pub(crate) fn codestream(input: &[u8]) -> Result<(&[u8], Option<Jp2Boxes<'_>>), Jp2Error> {
    if input.starts_with(&SOC.to_be_bytes()) {
        return Ok((input, None));
    }
    if !input.starts_with(&JP2_SIGNATURE) {
        return Err(Jp2Error::NotJpeg2000);
    }
    let mut rest = &input[JP2_SIGNATURE.len()..];
    let (kind, ftyp, r) = next_box(rest)?;
    if &kind != b"ftyp" || ftyp.len() < 8 || (ftyp.len() - 8) % 4 != 0 {
        return Err(Jp2Error::BadBox);
    }
    if !ftyp[8..].chunks_exact(4).any(|c| c == b"jp2 ") {
        return Err(Jp2Error::BadBox);
    }
    rest = r;
    let mut header = None;
    while !rest.is_empty() {
        let (kind, body, r) = next_box(rest)?;
        rest = r;
        match &kind {
            b"jp2h" => header = Some(jp2_header(body)?),
            b"jp2c" => {
                let (width, height, components) = header.ok_or(Jp2Error::BadBox)?;
                return Ok((body, Some(Jp2Boxes { width, height, components, codestream: body })));
            }
            _ => {}
        }
    }
    Err(Jp2Error::BadBox)
}

/// `jp2h`: `ihdr` first, then `colr`; palettes and component mappings are not supported.
fn jp2_header(mut body: &[u8]) -> Result<(u32, u32, u16), Jp2Error> {
    let (kind, ihdr, r) = next_box(body)?;
    if &kind != b"ihdr" || ihdr.len() != 14 {
        return Err(Jp2Error::BadBox);
    }
    body = r;
    let height = be32(ihdr, 0)?;
    let width = be32(ihdr, 4)?;
    let components = be16(ihdr, 8)?;
    if ihdr[11] != 7 {
        // Compression type must be 7 (JPEG 2000).
        return Err(Jp2Error::BadBox);
    }
    let mut colour = false;
    while !body.is_empty() {
        let (kind, b, r) = next_box(body)?;
        body = r;
        match &kind {
            b"colr" => {
                let method = *b.first().ok_or(Jp2Error::BadBox)?;
                if method == 1 {
                    let cs = be32(b, 3)?;
                    // 16 sRGB, 17 greyscale, 18 sYCC.
                    if !matches!(cs, 16..=18) {
                        return Err(Jp2Error::Unsupported("colour space"));
                    }
                }
                colour = true;
            }
            b"pclr" | b"cmap" => return Err(Jp2Error::Unsupported("palette")),
            _ => {}
        }
    }
    if !colour {
        return Err(Jp2Error::BadBox);
    }
    Ok((width, height, components))
}

/// One component's image parameters (SIZ).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Component {
    pub(crate) precision: u8,
    pub(crate) signed: bool,
}

/// SIZ: reference grid, tiling and components.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Siz {
    pub(crate) x1: u32,
    pub(crate) y1: u32,
    pub(crate) x0: u32,
    pub(crate) y0: u32,
    pub(crate) tw: u32,
    pub(crate) th: u32,
    pub(crate) tx0: u32,
    pub(crate) ty0: u32,
    pub(crate) ncomp: usize,
    pub(crate) comps: [Component; MAX_COMPONENTS],
}

impl Siz {
    pub(crate) fn tiles_across(&self) -> u32 {
        (self.x1 - self.tx0).div_ceil(self.tw)
    }

    pub(crate) fn tiles_down(&self) -> u32 {
        (self.y1 - self.ty0).div_ceil(self.th)
    }

    /// The tile rectangle (x0, y0, x1, y1) on the reference grid.
    pub(crate) fn tile_rect(&self, t: u32) -> (u32, u32, u32, u32) {
        let (p, q) = (u64::from(t % self.tiles_across()), u64::from(t / self.tiles_across()));
        let (tx0, ty0, tw, th) =
            (u64::from(self.tx0), u64::from(self.ty0), u64::from(self.tw), u64::from(self.th));
        let x0 = (tx0 + p * tw).max(u64::from(self.x0));
        let y0 = (ty0 + q * th).max(u64::from(self.y0));
        let x1 = (tx0 + (p + 1) * tw).min(u64::from(self.x1));
        let y1 = (ty0 + (q + 1) * th).min(u64::from(self.y1));
        // All within [x0, x1] of the image, which fits in u32.
        (x0 as u32, y0 as u32, x1 as u32, y1 as u32)
    }
}

fn parse_siz(s: &[u8]) -> Result<Siz, Jp2Error> {
    let bad = Jp2Error::BadMarker(SIZ);
    let ncomp = usize::from(be16(s, 34)?);
    if s.len() != 36 + 3 * ncomp {
        return Err(bad);
    }
    let mut siz = Siz {
        x1: be32(s, 2)?,
        y1: be32(s, 6)?,
        x0: be32(s, 10)?,
        y0: be32(s, 14)?,
        tw: be32(s, 18)?,
        th: be32(s, 22)?,
        tx0: be32(s, 26)?,
        ty0: be32(s, 30)?,
        ncomp,
        comps: [Component::default(); MAX_COMPONENTS],
    };
    if siz.x0 >= siz.x1 || siz.y0 >= siz.y1 || siz.tw == 0 || siz.th == 0 {
        return Err(bad);
    }
    if siz.tx0 > siz.x0
        || siz.ty0 > siz.y0
        || u64::from(siz.tx0) + u64::from(siz.tw) <= u64::from(siz.x0)
        || u64::from(siz.ty0) + u64::from(siz.th) <= u64::from(siz.y0)
    {
        return Err(bad);
    }
    if siz.x1 > 1 << 16 || siz.y1 > 1 << 16 {
        return Err(Jp2Error::Unsupported("image larger than 65536"));
    }
    // Tile indices are 16-bit (Isot).
    if u64::from(siz.tiles_across()) * u64::from(siz.tiles_down()) > 65535 {
        return Err(bad);
    }
    if ncomp != 1 && ncomp != 3 {
        return Err(Jp2Error::Unsupported("component count"));
    }
    for c in 0..ncomp {
        let b = &s[36 + 3 * c..39 + 3 * c];
        let precision = (b[0] & 0x7F) + 1;
        if precision > 16 {
            return Err(Jp2Error::Unsupported("precision above 16 bits"));
        }
        if b[1] != 1 || b[2] != 1 {
            return Err(Jp2Error::Unsupported("component sub-sampling"));
        }
        siz.comps[c] = Component { precision, signed: b[0] & 0x80 != 0 };
    }
    Ok(siz)
}

/// Coding style of one component (SPcod / SPcoc).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CompCoding {
    pub(crate) levels: u8,
    pub(crate) cbw: u8,
    pub(crate) cbh: u8,
    pub(crate) style: u8,
    pub(crate) reversible: bool,
    /// PPx | PPy << 4, per resolution.
    pub(crate) precincts: [u8; MAX_LEVELS + 1],
}

/// Coding style of the tile (COD's own fields).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cod {
    pub(crate) progression: u8,
    pub(crate) layers: u16,
    pub(crate) mct: bool,
    pub(crate) sop: bool,
    pub(crate) eph: bool,
    pub(crate) comp: CompCoding,
}

/// Quantisation of one component (SQcd / SQcc).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quant {
    /// 0 none, 1 scalar derived, 2 scalar expounded.
    pub(crate) style: u8,
    pub(crate) guard: u8,
    /// Exponent << 11 | mantissa, per band in codestream order.
    pub(crate) steps: [u16; MAX_STEPS],
    pub(crate) count: usize,
}

impl Quant {
    /// (exponent, mantissa) of the band with the given index (0 for LL, 3(r-1)+b otherwise)
    /// at `nb` decomposition levels from the image.
    pub(crate) fn step(&self, index: usize, levels: u8, nb: u8) -> Result<(u8, u16), Jp2Error> {
        if self.style == 1 {
            let (e0, m) = ((self.steps[0] >> 11) as i32, self.steps[0] & 0x7FF);
            let e = e0 - i32::from(levels) + i32::from(nb);
            return u8::try_from(e).map(|e| (e, m)).map_err(|_| Jp2Error::BadMarker(QCD));
        }
        if index >= self.count {
            return Err(Jp2Error::BadMarker(QCD));
        }
        let v = self.steps[index];
        Ok(((v >> 11) as u8, v & 0x7FF))
    }
}

/// Coding and quantisation for every component, resolved from main and tile-part headers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub(crate) cod: Cod,
    pub(crate) comp: [CompCoding; MAX_COMPONENTS],
    pub(crate) quant: [Quant; MAX_COMPONENTS],
}

/// Markers gathered from one header (main or first tile-part), before resolution.
#[derive(Default)]
struct HeaderMarkers {
    cod: Option<Cod>,
    coc: [Option<CompCoding>; MAX_COMPONENTS],
    qcd: Option<Quant>,
    qcc: [Option<Quant>; MAX_COMPONENTS],
}

fn parse_spcod(s: &[u8], user_precincts: bool, marker: u16) -> Result<CompCoding, Jp2Error> {
    let bad = Jp2Error::BadMarker(marker);
    let b = s.get(..5).ok_or(bad)?;
    let levels = b[0];
    if usize::from(levels) > MAX_LEVELS {
        return Err(Jp2Error::Unsupported("more than 12 decomposition levels"));
    }
    if b[1] > 8 || b[2] > 8 || b[1] + b[2] > 8 {
        return Err(bad);
    }
    let (cbw, cbh) = (b[1] + 2, b[2] + 2);
    if b[3] & 0xC0 != 0 {
        return Err(Jp2Error::Unsupported("code-block style"));
    }
    let reversible = match b[4] {
        0 => false,
        1 => true,
        _ => return Err(Jp2Error::Unsupported("wavelet filter")),
    };
    let mut precincts = [0xFF; MAX_LEVELS + 1];
    if user_precincts {
        let p = s.get(5..6 + usize::from(levels)).ok_or(bad)?;
        if s.len() != 6 + usize::from(levels) {
            return Err(bad);
        }
        for (r, &v) in p.iter().enumerate() {
            if r > 0 && (v & 0x0F == 0 || v >> 4 == 0) {
                return Err(bad);
            }
            precincts[r] = v;
        }
    } else if s.len() != 5 {
        return Err(bad);
    }
    Ok(CompCoding { levels, cbw, cbh, style: b[3], reversible, precincts })
}

fn parse_quant(s: &[u8], marker: u16) -> Result<Quant, Jp2Error> {
    let bad = Jp2Error::BadMarker(marker);
    let sq = *s.first().ok_or(bad)?;
    let mut q = Quant { style: sq & 0x1F, guard: sq >> 5, steps: [0; MAX_STEPS], count: 0 };
    let body = &s[1..];
    match q.style {
        0 => {
            if body.is_empty() || body.len() > MAX_STEPS {
                return Err(bad);
            }
            for (d, &b) in q.steps.iter_mut().zip(body) {
                *d = u16::from(b >> 3) << 11;
            }
            q.count = body.len();
        }
        1 | 2 => {
            if !body.len().is_multiple_of(2) || body.is_empty() || body.len() / 2 > MAX_STEPS {
                return Err(bad);
            }
            if q.style == 1 && body.len() != 2 {
                return Err(bad);
            }
            for (d, b) in q.steps.iter_mut().zip(body.chunks_exact(2)) {
                *d = u16::from_be_bytes([b[0], b[1]]);
            }
            q.count = body.len() / 2;
        }
        _ => return Err(bad),
    }
    Ok(q)
}

/// Component index in COC/QCC/RGN: one byte when fewer than 257 components.
fn comp_index(s: &[u8], ncomp: usize, marker: u16) -> Result<(usize, &[u8]), Jp2Error> {
    let c = usize::from(*s.first().ok_or(Jp2Error::BadMarker(marker))?);
    if c >= ncomp {
        return Err(Jp2Error::BadMarker(marker));
    }
    Ok((c, &s[1..]))
}

/// Reads marker segments from `cs[at..]` until SOT (main header) or SOD (tile-part header).
/// Answers the position of that marker.
fn read_markers(
    cs: &[u8],
    mut at: usize,
    ncomp: usize,
    m: &mut HeaderMarkers,
    main: bool,
) -> Result<usize, Jp2Error> {
    loop {
        let marker = be16(cs, at)?;
        if (main && marker == SOT) || (!main && marker == SOD) {
            return Ok(at);
        }
        if marker < 0xFF30 {
            return Err(Jp2Error::UnexpectedMarker(marker));
        }
        let len = usize::from(be16(cs, at + 2)?);
        if len < 2 {
            return Err(Jp2Error::BadMarker(marker));
        }
        let seg = cs.get(at + 4..at + 2 + len).ok_or(Jp2Error::Truncated)?;
        match marker {
            COD => {
                let scod = *seg.first().ok_or(Jp2Error::BadMarker(COD))?;
                let sg = seg.get(1..5).ok_or(Jp2Error::BadMarker(COD))?;
                if scod & !0x07 != 0 || sg[0] > 4 {
                    return Err(Jp2Error::BadMarker(COD));
                }
                let layers = u16::from_be_bytes([sg[1], sg[2]]);
                if layers == 0 || sg[3] > 1 {
                    return Err(Jp2Error::BadMarker(COD));
                }
                m.cod = Some(Cod {
                    progression: sg[0],
                    layers,
                    mct: sg[3] == 1,
                    sop: scod & 0x02 != 0,
                    eph: scod & 0x04 != 0,
                    comp: parse_spcod(&seg[5..], scod & 0x01 != 0, COD)?,
                });
            }
            COC => {
                let (c, rest) = comp_index(seg, ncomp, COC)?;
                let scoc = *rest.first().ok_or(Jp2Error::BadMarker(COC))?;
                m.coc[c] = Some(parse_spcod(&rest[1..], scoc & 0x01 != 0, COC)?);
            }
            QCD => m.qcd = Some(parse_quant(seg, QCD)?),
            QCC => {
                let (c, rest) = comp_index(seg, ncomp, QCC)?;
                m.qcc[c] = Some(parse_quant(rest, QCC)?);
            }
            RGN => return Err(Jp2Error::Unsupported("region of interest")),
            POC => return Err(Jp2Error::Unsupported("progression order change")),
            PPM | PPT => return Err(Jp2Error::Unsupported("packed packet headers")),
            TLM | PLM | PLT | CRG | COM => {}
            SIZ => return Err(Jp2Error::UnexpectedMarker(marker)),
            0xFF30..=0xFF3F => {}
            _ => return Err(Jp2Error::UnexpectedMarker(marker)),
        }
        at += 2 + len;
    }
}

/// The main header: SIZ and the default coding and quantisation.
pub(crate) struct MainHeader {
    pub(crate) siz: Siz,
    pub(crate) params: Params,
    /// Offset of the first SOT.
    pub(crate) first_sot: usize,
}

pub(crate) fn main_header(cs: &[u8]) -> Result<MainHeader, Jp2Error> {
    if be16(cs, 0)? != SOC {
        return Err(Jp2Error::NotJpeg2000);
    }
    if be16(cs, 2)? != SIZ {
        return Err(Jp2Error::UnexpectedMarker(be16(cs, 2)?));
    }
    let len = usize::from(be16(cs, 4)?);
    let siz = parse_siz(cs.get(6..4 + len).ok_or(Jp2Error::Truncated)?)?;
    let mut m = HeaderMarkers::default();
    let first_sot = read_markers(cs, 4 + len, siz.ncomp, &mut m, true)?;
    let cod = m.cod.ok_or(Jp2Error::MissingMarker(COD))?;
    let qcd = m.qcd.ok_or(Jp2Error::MissingMarker(QCD))?;
    let mut params = Params { cod, comp: [cod.comp; MAX_COMPONENTS], quant: [qcd; MAX_COMPONENTS] };
    for c in 0..siz.ncomp {
        if let Some(coc) = m.coc[c] {
            params.comp[c] = coc;
        }
        if let Some(qcc) = m.qcc[c] {
            params.quant[c] = qcc;
        }
    }
    Ok(MainHeader { siz, params, first_sot })
}

/// One tile-part: where its header and data are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TilePart {
    pub(crate) tile: u16,
    pub(crate) index: u8,
    /// Start of the SOT marker.
    pub(crate) start: usize,
    /// Data (after SOD) as a range of the codestream.
    pub(crate) data: (usize, usize),
    /// End (next SOT or EOC).
    pub(crate) end: usize,
}

/// Reads the SOT at `at` and finds its SOD and end.
pub(crate) fn tile_part(cs: &[u8], at: usize) -> Result<TilePart, Jp2Error> {
    if be16(cs, at)? != SOT {
        return Err(Jp2Error::UnexpectedMarker(be16(cs, at)?));
    }
    if be16(cs, at + 2)? != 10 {
        return Err(Jp2Error::BadMarker(SOT));
    }
    let tile = be16(cs, at + 4)?;
    let psot = be32(cs, at + 6)? as usize;
    let index = *cs.get(at + 10).ok_or(Jp2Error::Truncated)?;
    let end = if psot == 0 {
        // To the EOC marker at the end.
        if cs.ends_with(&EOC.to_be_bytes()) {
            cs.len() - 2
        } else {
            cs.len()
        }
    } else {
        at.checked_add(psot).ok_or(Jp2Error::BadMarker(SOT))?
    };
    if end > cs.len() || end < at + 14 {
        return Err(Jp2Error::Truncated);
    }
    // The tile-part header markers are read later, in `tile_params`; find SOD by walking.
    let mut p = at + 12;
    loop {
        let marker = be16(cs, p)?;
        if marker == SOD {
            break;
        }
        if marker < 0xFF30 {
            return Err(Jp2Error::UnexpectedMarker(marker));
        }
        let len = usize::from(be16(cs, p + 2)?);
        if len < 2 {
            return Err(Jp2Error::BadMarker(marker));
        }
        p += 2 + len;
        if p + 2 > end {
            return Err(Jp2Error::Truncated);
        }
    }
    Ok(TilePart { tile, index, start: at, data: (p + 2, end), end })
}

/// The parameters of a tile: main header's, overridden by its first tile-part's header.
pub(crate) fn tile_params(cs: &[u8], main: &MainHeader, first: &TilePart) -> Result<Params, Jp2Error> {
    let mut m = HeaderMarkers::default();
    read_markers(cs, first.start + 12, main.siz.ncomp, &mut m, false)?;
    let mut p = main.params;
    // Precedence (A.6.1): tile COC > tile COD > main COC > main COD; likewise for QCC/QCD.
    if let Some(cod) = m.cod {
        p.cod = cod;
        p.comp = [cod.comp; MAX_COMPONENTS];
    }
    if let Some(qcd) = m.qcd {
        p.quant = [qcd; MAX_COMPONENTS];
    }
    for c in 0..main.siz.ncomp {
        if let Some(coc) = m.coc[c] {
            p.comp[c] = coc;
        }
        if let Some(qcc) = m.qcc[c] {
            p.quant[c] = qcc;
        }
    }
    Ok(p)
}
