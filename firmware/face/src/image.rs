//! The image and geometry types every stage of the face path shares: camera frames, the
//! decoded chip photo, detections, landmarks and the aligned chip.

/// An 8-bit image borrowed from its owner: row-major, `channels` samples per pixel
/// interleaved (1 = grey, 3 = RGB), no row padding.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a> {
    width: usize,
    height: usize,
    channels: usize,
    data: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ImageError {
    #[error("{0} channels: only grey (1) and RGB (3) images are taken")]
    Channels(usize),
    #[error("an image of {width}×{height}×{channels} needs {need} bytes, {got} given")]
    Size { width: usize, height: usize, channels: usize, need: usize, got: usize },
    #[error("an empty image")]
    Empty,
}

impl<'a> ImageRef<'a> {
    pub fn new(width: usize, height: usize, channels: usize, data: &'a [u8]) -> Result<Self, ImageError> {
        if channels != 1 && channels != 3 {
            return Err(ImageError::Channels(channels));
        }
        if width == 0 || height == 0 {
            return Err(ImageError::Empty);
        }
        let need = width.checked_mul(height).and_then(|n| n.checked_mul(channels));
        match need {
            Some(need) if need == data.len() => Ok(ImageRef { width, height, channels, data }),
            _ => Err(ImageError::Size {
                width,
                height,
                channels,
                need: need.unwrap_or(usize::MAX),
                got: data.len(),
            }),
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn channels(&self) -> usize {
        self.channels
    }
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The pixel at (x, y) as RGB (grey replicated, as dlib does when it loads a grey image
    /// into an RGB one). The caller keeps x and y inside the image.
    #[inline]
    pub fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * self.channels;
        if self.channels == 1 {
            let g = self.data[i];
            [g, g, g]
        } else {
            [self.data[i], self.data[i + 1], self.data[i + 2]]
        }
    }

    /// The pixel at (x, y) as grey: the sample itself, or dlib's RGB→grey (the mean of the
    /// three channels, rounded down).
    #[inline]
    pub fn grey(&self, x: usize, y: usize) -> u8 {
        let i = (y * self.width + x) * self.channels;
        if self.channels == 1 {
            self.data[i]
        } else {
            ((self.data[i] as u16 + self.data[i + 1] as u16 + self.data[i + 2] as u16) / 3) as u8
        }
    }
}

/// A point in image coordinates (pixels, x to the right, y down).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// A box with inclusive edges, as dlib's `rectangle` (width = right − left + 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rect {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

impl Rect {
    pub fn width(&self) -> i32 {
        self.right - self.left + 1
    }
    pub fn height(&self) -> i32 {
        self.bottom - self.top + 1
    }
    pub fn area(&self) -> i64 {
        if self.right < self.left || self.bottom < self.top {
            0
        } else {
            self.width() as i64 * self.height() as i64
        }
    }
    /// Intersection over union, 0 for disjoint boxes.
    pub fn iou(&self, other: &Rect) -> f32 {
        let i = Rect {
            left: self.left.max(other.left),
            top: self.top.max(other.top),
            right: self.right.min(other.right),
            bottom: self.bottom.min(other.bottom),
        }
        .area();
        let u = self.area() + other.area() - i;
        if u <= 0 {
            0.0
        } else {
            i as f32 / u as f32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_channels_are_checked() {
        assert_eq!(ImageRef::new(2, 2, 2, &[0; 8]).unwrap_err(), ImageError::Channels(2));
        assert_eq!(ImageRef::new(0, 2, 1, &[]).unwrap_err(), ImageError::Empty);
        assert!(matches!(ImageRef::new(2, 2, 3, &[0; 11]), Err(ImageError::Size { need: 12, got: 11, .. })));
        assert!(matches!(ImageRef::new(usize::MAX, 2, 3, &[0; 1]), Err(ImageError::Size { .. })));
        let img = ImageRef::new(2, 1, 3, &[10, 20, 31, 1, 2, 3]).unwrap();
        assert_eq!(img.rgb(0, 0), [10, 20, 31]);
        assert_eq!(img.grey(0, 0), 20);
        let grey = ImageRef::new(2, 1, 1, &[7, 9]).unwrap();
        assert_eq!(grey.rgb(1, 0), [9, 9, 9]);
    }

    #[test]
    fn iou_of_boxes() {
        let a = Rect { left: 0, top: 0, right: 9, bottom: 9 };
        assert_eq!(a.width(), 10);
        assert_eq!(a.iou(&a), 1.0);
        let b = Rect { left: 5, top: 0, right: 14, bottom: 9 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&Rect { left: 20, top: 20, right: 29, bottom: 29 }), 0.0);
    }
}
