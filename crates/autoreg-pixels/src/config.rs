use crate::fit;
use crate::tokenizer::PixelsTokenizer;
use autoreg_tokens::{TokenError, TokenizerBuilder};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// Image width in pixels; default: the first training image's.
    pub width: Option<u32>,
    /// Image height in pixels; default: the first training image's.
    pub height: Option<u32>,
    /// Resize images of another size (default); when `false` they are an error.
    pub resize: bool,
    /// The resampling filter (default `"triangle"`).
    pub filter: Filter,
    /// `"grey"` (default), `"rgb"` or `"palette"`.
    pub colors: Colors,
    /// Levels per channel for grey and RGB, 2 to 256 (default 256; 2 binarizes).
    pub levels: u32,
    /// Colours in a learned palette (default 512, Image GPT's 9-bit palette).
    pub palette_size: usize,
    /// Training pixels drawn to fit the palette (default 65,536).
    pub palette_sample: usize,
    /// Seed of the palette's pixel draw and k-means start (default 0).
    pub seed: u64,
    /// Put a class token after BOS (default `false`); classes are learned at fit time.
    pub conditional: bool,
    /// The CSV value meaning full intensity; default: the largest value in the
    /// training CSV rows (16 for sklearn's digits), or 255 when there are none.
    pub max_value: Option<f64>,
    /// Integer factor by which decoded images are enlarged, nearest neighbour (default 1).
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

impl TokenizerBuilder for PixelsConfig {
    type Tokenizer = PixelsTokenizer;

    fn extensions(&self) -> &'static [&'static str] {
        &["png", "jpg", "jpeg", "bmp", "gif", "csv", "gz", "idx", "idx3-ubyte", "idx1-ubyte"]
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
