use crate::config::Filter;
use crate::error::InputError;
use image::{DynamicImage, ImageBuffer, Luma, Rgb};

/// The size every image is brought to, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether an image of another size is resized (else it is an error).
    pub resize: bool,
    /// The resampling filter.
    pub filter: Filter,
}

impl Shape {
    /// `raster` at this shape's size; `index` names the image in the error.
    pub fn fit(&self, raster: Raster, index: usize) -> Result<Raster, InputError> {
        if (raster.width, raster.height) == (self.width, self.height) || self.resize {
            return Ok(raster.resized(self.width, self.height, self.filter));
        }
        Err(InputError::Size {
            index,
            width: raster.width,
            height: raster.height,
            expected_width: self.width,
            expected_height: self.height,
        })
    }
}

/// An image as sub-pixel values in [0, 1]: raster order, channels interleaved.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Raster {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// `width * height * channels` values in [0, 1].
    pub values: Vec<f32>,
}

impl Raster {
    /// A decoded image converted to `channels` (1 or 3) values per pixel.
    pub fn from_image(image: &DynamicImage, channels: usize) -> Self {
        let (width, height) = (image.width(), image.height());
        let values = if channels == 1 { image.to_luma32f().into_raw() } else { image.to_rgb32f().into_raw() };
        Self { width, height, channels, values }
    }

    /// The same picture with `channels` values per pixel; grey becomes RGB by repeating
    /// the value, RGB becomes grey by Rec. 709 luma.
    pub fn with_channels(self, channels: usize) -> Self {
        if channels == self.channels {
            return self;
        }
        let values = if channels == 3 {
            self.values.iter().flat_map(|&v| [v, v, v]).collect()
        } else {
            self.values.chunks_exact(3).map(|p| 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]).collect()
        };
        Self { channels, values, ..self }
    }

    /// The picture resized to `width` x `height` with `filter`, values kept in [0, 1].
    pub fn resized(self, width: u32, height: u32, filter: Filter) -> Self {
        if (width, height) == (self.width, self.height) {
            return self;
        }
        let filter = filter.image_filter();
        let mut values = match self.channels {
            1 => ImageBuffer::<Luma<f32>, _>::from_raw(self.width, self.height, self.values)
                .map(|b| image::imageops::resize(&b, width, height, filter).into_raw()),
            _ => ImageBuffer::<Rgb<f32>, _>::from_raw(self.width, self.height, self.values)
                .map(|b| image::imageops::resize(&b, width, height, filter).into_raw()),
        }
        .unwrap_or_default();
        values.resize((width * height) as usize * self.channels, 0.0);
        values.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
        Self { width, height, channels: self.channels, values }
    }

    /// The picture enlarged `factor` times, each pixel repeated into a square.
    pub fn enlarged(self, factor: u32) -> Self {
        if factor <= 1 {
            return self;
        }
        let (f, c) = (factor as usize, self.channels);
        let row_len = self.width as usize * c;
        let mut values = Vec::with_capacity(self.values.len() * f * f);
        for row in self.values.chunks_exact(row_len.max(1)) {
            let wide: Vec<f32> = row.chunks_exact(c).flat_map(|p| p.repeat(f)).collect();
            (0..f).for_each(|_| values.extend_from_slice(&wide));
        }
        Self { width: self.width * factor, height: self.height * factor, values, ..self }
    }

    /// The picture shrunk `factor` times, each `factor` x `factor` square averaged into
    /// one pixel: the inverse of [`Raster::enlarged`]. The size must be a multiple of
    /// `factor`.
    pub fn shrunk(self, factor: u32) -> Self {
        if factor <= 1 || !self.width.is_multiple_of(factor) || !self.height.is_multiple_of(factor) {
            return self;
        }
        let (f, c) = (factor as usize, self.channels);
        let (width, height) = (self.width / factor, self.height / factor);
        let big_row = self.width as usize * c;
        let mut values = vec![0.0f32; (width * height) as usize * c];
        for (y, row) in self.values.chunks_exact(big_row.max(1)).enumerate() {
            let out = &mut values[y / f * width as usize * c..][..width as usize * c];
            for (x, pixel) in row.chunks_exact(c).enumerate() {
                out[x / f * c..][..c].iter_mut().zip(pixel).for_each(|(o, &v)| *o += v);
            }
        }
        let area = (f * f) as f32;
        values.iter_mut().for_each(|v| *v = (*v / area).clamp(0.0, 1.0));
        Self { width, height, values, ..self }
    }

    /// The picture as 8-bit grey or RGB, each value rounded.
    pub fn to_image(&self) -> DynamicImage {
        let bytes: Vec<u8> = self.values.iter().map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
        let image = if self.channels == 1 {
            ImageBuffer::<Luma<u8>, _>::from_raw(self.width, self.height, bytes).map(DynamicImage::ImageLuma8)
        } else {
            ImageBuffer::<Rgb<u8>, _>::from_raw(self.width, self.height, bytes).map(DynamicImage::ImageRgb8)
        };
        image.unwrap_or_else(|| DynamicImage::new_rgb8(self.width, self.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_keeps_flat_images_flat_and_values_in_range() {
        let flat = Raster { width: 4, height: 2, channels: 3, values: vec![0.25; 24] };
        for filter in [Filter::Nearest, Filter::Triangle, Filter::CatmullRom, Filter::Lanczos3] {
            let r = flat.clone().resized(7, 5, filter);
            assert_eq!((r.width, r.height, r.values.len()), (7, 5, 105));
            assert!(r.values.iter().all(|&v| (v - 0.25).abs() < 1e-4), "{filter:?}: {:?}", r.values);
        }
        let edge = Raster { width: 4, height: 1, channels: 1, values: vec![0.0, 0.0, 1.0, 1.0] };
        let r = edge.resized(9, 3, Filter::Lanczos3);
        assert!(r.values.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn enlarging_repeats_each_pixel_into_a_square() {
        let r = Raster { width: 2, height: 1, channels: 3, values: vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6] };
        let big = r.enlarged(2);
        assert_eq!((big.width, big.height), (4, 2));
        let row = [0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.4, 0.5, 0.6];
        assert_eq!(big.values, [row, row].concat());
    }

    #[test]
    fn shrinking_undoes_enlarging_and_averages_squares() {
        let r = Raster { width: 3, height: 2, channels: 3, values: (0..18).map(|i| i as f32 / 17.0).collect() };
        for f in [1, 2, 5] {
            let back = r.clone().enlarged(f).shrunk(f);
            assert_eq!((back.width, back.height, back.channels), (3, 2, 3));
            assert!(back.values.iter().zip(&r.values).all(|(a, b)| (a - b).abs() < 1e-6), "{f}: {:?}", back.values);
        }
        let grey = Raster { width: 2, height: 2, channels: 1, values: vec![0.0, 1.0, 0.5, 0.5] };
        assert_eq!(grey.clone().shrunk(2).values, [0.5]);
        assert_eq!(grey.clone().shrunk(3), grey, "a size that is not a multiple is left alone");
    }

    #[test]
    fn a_shape_without_resizing_refuses_other_sizes() {
        let shape = Shape { width: 2, height: 2, resize: false, filter: Filter::Nearest };
        let r = Raster { width: 3, height: 2, channels: 1, values: vec![0.0; 6] };
        let err = shape.fit(r.clone(), 4).unwrap_err().to_string();
        assert_eq!(err, "image 4 is 3x2, not 2x2, and resize is off");
        assert_eq!(Shape { resize: true, ..shape }.fit(r, 0).unwrap().values.len(), 4);
    }

    #[test]
    fn grey_and_rgb_convert_both_ways() {
        let grey = Raster { width: 2, height: 1, channels: 1, values: vec![0.0, 0.5] };
        let rgb = grey.clone().with_channels(3);
        assert_eq!(rgb.values, vec![0.0, 0.0, 0.0, 0.5, 0.5, 0.5]);
        let back = rgb.with_channels(1);
        assert!(back.values.iter().zip(&grey.values).all(|(a, b)| (a - b).abs() < 1e-6));
    }
}
