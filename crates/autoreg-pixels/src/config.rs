use crate::fit;
use crate::tokenizer::{PixelsTokenizer, check_decoded_size};
use autoreg_tokens::{ModalityBuilder, TokenError};
use serde::{Deserialize, Serialize};
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// Image widths and heights allowed, in pixels.
pub(crate) const SIDES: RangeInclusive<u32> = 1..=4096;
/// Levels per channel allowed for grey and RGB.
pub(crate) const LEVELS: RangeInclusive<u32> = 2..=256;
/// Palette sizes allowed.
pub(crate) const PALETTE_SIZES: RangeInclusive<usize> = 1..=65_536;
/// Training pixels a palette may be fitted on (k-means time grows with them).
const PALETTE_SAMPLES: RangeInclusive<usize> = 1..=16_777_216;
/// Enlargement factors allowed for decoded images.
pub(crate) const SCALES: RangeInclusive<u32> = 1..=64;

/// An error naming `key` unless `value` lies in `range`.
pub(crate) fn check_range<T: PartialOrd + Display>(
    key: &str,
    value: T,
    range: &RangeInclusive<T>,
) -> Result<(), String> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(format!("{key} must be {} to {}, not {value}", range.start(), range.end()))
}

/// An error naming `key` unless `value` is a finite number above 0.
pub(crate) fn check_positive(key: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 {
        return Ok(());
    }
    Err(format!("{key} must be a finite number above 0, not {value}"))
}

/// How pixels become tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colors {
    /// One token per pixel: its grey level.
    #[default]
    #[serde(alias = "gray")]
    Grey,
    /// Three tokens per pixel, red, green then blue (PixelCNN order).
    Rgb,
    /// One token per pixel: the nearest colour of a palette learned by k-means.
    Palette,
}

/// The resampling filter used to resize images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filter {
    /// Nearest neighbour.
    Nearest,
    /// Linear interpolation.
    #[default]
    Triangle,
    /// Cubic (Catmull-Rom).
    CatmullRom,
    /// Lanczos with a window of 3.
    Lanczos3,
}

impl Filter {
    /// The `image` crate's filter.
    pub(crate) fn image_filter(self) -> image::imageops::FilterType {
        use image::imageops::FilterType;
        match self {
            Self::Nearest => FilterType::Nearest,
            Self::Triangle => FilterType::Triangle,
            Self::CatmullRom => FilterType::CatmullRom,
            Self::Lanczos3 => FilterType::Lanczos3,
        }
    }
}

/// `[tokenizer] kind = "pixels"` in a config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PixelsConfig {
    /// Image width in pixels, 1 to 4096; default: the first training image's.
    pub width: Option<u32>,
    /// Image height in pixels, 1 to 4096; default: the first training image's.
    pub height: Option<u32>,
    /// Resize images of another size (default); when `false` they are an error.
    pub resize: bool,
    /// The resampling filter (default `"triangle"`).
    pub filter: Filter,
    /// `"grey"` (default), `"rgb"` or `"palette"`.
    pub colors: Colors,
    /// Levels per channel for grey and RGB, 2 to 256 (default 256; 2 binarizes).
    pub levels: u32,
    /// Colours in a learned palette, 1 to 65,536 (default 512, Image GPT's 9-bit palette).
    pub palette_size: usize,
    /// Training pixels drawn to fit the palette, 1 to 16,777,216 (default 65,536).
    pub palette_sample: usize,
    /// Seed of the palette's pixel draw and k-means start (default 0).
    pub seed: u64,
    /// Put a class token after BOS (default `false`); classes are learned at fit time.
    pub conditional: bool,
    /// The CSV value meaning full intensity, a finite number above 0; default: the
    /// largest value in the training CSV rows (16 for sklearn's digits), or 255 when
    /// there are none.
    pub max_value: Option<f64>,
    /// Integer factor by which decoded images are enlarged, nearest neighbour, 1 to 64
    /// (default 1); enlarged images may have at most 2^25 pixels.
    pub scale: u32,
}

impl Default for PixelsConfig {
    fn default() -> Self {
        Self {
            width: None,
            height: None,
            resize: true,
            filter: Filter::default(),
            colors: Colors::default(),
            levels: 256,
            palette_size: 512,
            palette_sample: 65_536,
            seed: 0,
            conditional: false,
            max_value: None,
            scale: 1,
        }
    }
}

impl PixelsConfig {
    /// Checks every numeric setting, before any file is read or any work is done; the
    /// reason names the key (`tokenizer.width`, ...) and the values it allows.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (key, side) in [("tokenizer.width", self.width), ("tokenizer.height", self.height)] {
            side.map_or(Ok(()), |side| check_range(key, side, &SIDES))?;
        }
        match self.colors {
            Colors::Palette => {
                check_range("tokenizer.palette_size", self.palette_size, &PALETTE_SIZES)?;
                check_range("tokenizer.palette_sample", self.palette_sample, &PALETTE_SAMPLES)?;
            }
            Colors::Grey | Colors::Rgb => check_range("tokenizer.levels", self.levels, &LEVELS)?,
        }
        self.max_value.map_or(Ok(()), |v| check_positive("tokenizer.max_value", v))?;
        check_range("tokenizer.scale", self.scale, &SCALES)?;
        match (self.width, self.height) {
            (Some(width), Some(height)) => check_decoded_size(width, height, self.scale),
            _ => Ok(()),
        }
    }
}

impl ModalityBuilder for PixelsConfig {
    type Modality = PixelsTokenizer;

    fn extensions(&self) -> Vec<String> {
        ["png", "jpg", "jpeg", "bmp", "gif", "csv", "gz", "idx", "idx3-ubyte", "idx1-ubyte"].map(String::from).to_vec()
    }

    fn build(&self, files: &[PathBuf]) -> Result<PixelsTokenizer, TokenError> {
        fit::fit(self, files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_a_bare_section_and_unknown_keys_are_refused() {
        let config: PixelsConfig = serde_json::from_str(r#"{"colors": "gray", "filter": "catmull-rom"}"#).unwrap();
        assert_eq!(config, PixelsConfig { colors: Colors::Grey, filter: Filter::CatmullRom, ..Default::default() });
        let err = serde_json::from_str::<PixelsConfig>(r#"{"colours": "rgb"}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `colours`"), "{err}");
    }
}
