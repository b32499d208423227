//! `[tokenizer.codec]`: the codec's shape and its training budget.

use autoreg_tokens::SignalShape;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[tokenizer.codec]` in a config: a codec trained on the run's training split, or
/// (`from`) one that another run trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodecConfig {
    /// A trained codec to reuse instead of training one: a run directory (or its
    /// `tokenizer.json`) whose tokenizer holds a codec for this kind, relative to the
    /// working directory. The codec keeps the settings it was trained with; the other
    /// keys must then be left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<PathBuf>,
    /// Audio: values per spectral frame, the hop of the short-time Fourier transform
    /// (default 80: 10 ms at 8 kHz). The window is the power of two at or above 3 hops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop: Option<usize>,
    /// Audio: spectral frames per code, 1, 2, 4 or 8 (default 2: 50 codes per second
    /// at 8 kHz).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_per_code: Option<usize>,
    /// Images: pixels per code along each side, 1, 2, 4 or 8 (default 4: a 4x4 patch
    /// is one code). Width and height must be multiples of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downsample: Option<usize>,
    /// Codes in the codebook (default 512).
    pub codebook_size: usize,
    /// Dimensions of a code vector (default 64).
    pub code_dim: usize,
    /// Channels of the convolutions (default 128).
    pub channels: usize,
    /// Training steps (default 2000).
    pub steps: usize,
    /// Most seconds of training: it stops after the step that passes them (absent: no
    /// limit). A codec stopped by time depends on the machine's speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Crops per training step (default 32).
    pub batch_size: usize,
    /// Audio: spectral frames per training crop, a multiple of `frames_per_code`
    /// (default 64). Images train whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crop_frames: Option<usize>,
    /// Peak learning rate of AdamW (default 2e-3), after 100 steps of warm-up, then a
    /// cosine decay to a tenth of it.
    pub lr: f64,
    /// Seed of the initial weights and of the crops drawn (default 0).
    pub seed: u64,
    /// Audio: Griffin-Lim iterations that recover the phase when decoding (default 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub griffin_lim: Option<usize>,
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            from: None,
            hop: None,
            frames_per_code: None,
            downsample: None,
            codebook_size: 512,
            code_dim: 64,
            channels: 128,
            steps: 2000,
            seconds: None,
            batch_size: 32,
            crop_frames: None,
            lr: 2e-3,
            seed: 0,
            griffin_lim: None,
        }
    }
}

/// Audio's defaults: 10 ms frames at 8 kHz, two a code, crops of 0.64 s, 32 iterations
/// of Griffin-Lim.
const HOP: usize = 80;
const FRAMES_PER_CODE: usize = 2;
const CROP_FRAMES: usize = 64;
const GRIFFIN_LIM: usize = 32;
/// Images' default: a 4x4 patch a code.
const DOWNSAMPLE: usize = 4;

impl CodecConfig {
    /// Checks every setting; the reason names the key and what it allows.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(from) = &self.from {
            let trained = Self { from: Some(from.clone()), ..Self::default() };
            if *self != trained {
                return Err(format!(
                    "`from` reuses the codec of {} as it was trained: leave out the other keys",
                    from.display()
                ));
            }
            return Ok(());
        }
        let range = |key: &str, value: usize, low: usize, high: usize| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!("`{key}` must be between {low} and {high}, not {value}"))
            }
        };
        range("hop", self.hop(), 1, 4096)?;
        for (key, value) in [("frames_per_code", self.frames_per_code()), ("downsample", self.downsample())] {
            if ![1, 2, 4, 8].contains(&value) {
                return Err(format!("`{key}` must be 1, 2, 4 or 8, not {value}"));
            }
        }
        range("codebook_size", self.codebook_size, 2, 65536)?;
        range("code_dim", self.code_dim, 1, 1024)?;
        range("channels", self.channels, 1, 2048)?;
        range("steps", self.steps, 1, 10_000_000)?;
        range("batch_size", self.batch_size, 1, 65536)?;
        range("crop_frames", self.crop_frames(), self.frames_per_code(), 65536)?;
        if !self.crop_frames().is_multiple_of(self.frames_per_code()) {
            return Err(format!(
                "`crop_frames` ({}) must be a multiple of `frames_per_code` ({})",
                self.crop_frames(),
                self.frames_per_code()
            ));
        }
        range("griffin_lim", self.griffin_lim(), 0, 1000)?;
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("`lr` must be a positive number, not {}", self.lr));
        }
        if let Some(s) = self.seconds
            && !(s.is_finite() && s > 0.0)
        {
            return Err(format!("`seconds` must be a positive number, not {s}"));
        }
        Ok(())
    }

    /// The settings for signals of `shape`, as a codec saves them: the keys of that
    /// shape with their defaults filled in. A key of another shape is an error naming it.
    pub fn for_shape(&self, shape: SignalShape) -> Result<Self, String> {
        self.validate()?;
        let (audio, image) = ("hop, frames_per_code, crop_frames, griffin_lim", "downsample");
        match shape {
            SignalShape::Wave { .. } => {
                if self.downsample.is_some() {
                    return Err(format!("`downsample` is a key of image codecs; audio codecs have {audio}"));
                }
                Ok(Self {
                    hop: Some(self.hop()),
                    frames_per_code: Some(self.frames_per_code()),
                    crop_frames: Some(self.crop_frames()),
                    griffin_lim: Some(self.griffin_lim()),
                    ..self.clone()
                })
            }
            SignalShape::Image { width, height, .. } => {
                let keys = [
                    ("hop", self.hop.is_some()),
                    ("frames_per_code", self.frames_per_code.is_some()),
                    ("crop_frames", self.crop_frames.is_some()),
                    ("griffin_lim", self.griffin_lim.is_some()),
                ];
                if let Some((key, _)) = keys.iter().find(|(_, given)| *given) {
                    return Err(format!("`{key}` is a key of audio codecs; image codecs have {image}"));
                }
                let side = self.downsample() as u32;
                if !width.is_multiple_of(side) || !height.is_multiple_of(side) {
                    return Err(format!(
                        "{width}x{height} images do not divide into codes of {side}x{side} pixels: \
                         choose a `downsample` that divides both, or another image size"
                    ));
                }
                Ok(Self { downsample: Some(self.downsample()), ..self.clone() })
            }
        }
    }

    /// Audio: values per spectral frame.
    pub fn hop(&self) -> usize {
        self.hop.unwrap_or(HOP)
    }

    /// Audio: spectral frames per code.
    pub fn frames_per_code(&self) -> usize {
        self.frames_per_code.unwrap_or(FRAMES_PER_CODE)
    }

    /// Images: pixels per code along each side.
    pub fn downsample(&self) -> usize {
        self.downsample.unwrap_or(DOWNSAMPLE)
    }

    /// Audio: spectral frames per training crop.
    pub fn crop_frames(&self) -> usize {
        self.crop_frames.unwrap_or(CROP_FRAMES)
    }

    /// Audio: Griffin-Lim iterations when decoding.
    pub fn griffin_lim(&self) -> usize {
        self.griffin_lim.unwrap_or(GRIFFIN_LIM)
    }

    /// Audio: the STFT window, the power of two at or above three hops.
    pub fn n_fft(&self) -> usize {
        (3 * self.hop()).next_power_of_two()
    }

    /// How many steps of the signal's grid one code takes along each axis: frames for
    /// audio, pixels for images.
    pub fn stride(&self, shape: SignalShape) -> usize {
        match shape {
            SignalShape::Wave { .. } => self.frames_per_code(),
            SignalShape::Image { .. } => self.downsample(),
        }
    }

    /// Values that one code stands for in signals of `shape`.
    pub fn values_per_code(&self, shape: SignalShape) -> usize {
        match shape {
            SignalShape::Wave { .. } => self.hop() * self.frames_per_code(),
            SignalShape::Image { channels, .. } => self.downsample().pow(2) * channels as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_keys_are_named() {
        assert_eq!(CodecConfig::default().validate(), Ok(()));
        assert_eq!(CodecConfig::default().n_fft(), 256);
        let bad = CodecConfig { frames_per_code: Some(3), ..CodecConfig::default() };
        assert!(bad.validate().unwrap_err().contains("`frames_per_code`"));
        let bad = CodecConfig { crop_frames: Some(63), ..CodecConfig::default() };
        assert!(bad.validate().unwrap_err().contains("multiple of `frames_per_code`"));
        let bad = CodecConfig { from: Some("runs/x".into()), steps: 5, ..CodecConfig::default() };
        assert!(bad.validate().unwrap_err().contains("leave out the other keys"));
        let err = toml::from_str::<CodecConfig>("codebook = 5").unwrap_err().to_string();
        assert!(err.contains("codebook"), "{err}");
    }

    #[test]
    fn a_shape_takes_its_own_keys_with_defaults_and_refuses_the_others() {
        let wave = SignalShape::Wave { rate: 8000 };
        let image = SignalShape::Image { width: 28, height: 28, channels: 1 };
        let audio = CodecConfig::default().for_shape(wave).unwrap();
        assert_eq!((audio.hop, audio.griffin_lim, audio.downsample), (Some(80), Some(32), None));
        assert_eq!(audio.values_per_code(wave), 160);
        let pixels = CodecConfig::default().for_shape(image).unwrap();
        assert_eq!((pixels.hop, pixels.downsample), (None, Some(4)));
        assert_eq!(pixels.values_per_code(SignalShape::Image { width: 8, height: 8, channels: 3 }), 48);
        let err = CodecConfig { hop: Some(80), ..CodecConfig::default() }.for_shape(image).unwrap_err();
        assert!(err.contains("`hop` is a key of audio codecs"), "{err}");
        let err = CodecConfig { downsample: Some(2), ..CodecConfig::default() }.for_shape(wave).unwrap_err();
        assert!(err.contains("`downsample` is a key of image codecs"), "{err}");
        let err = CodecConfig { downsample: Some(8), ..CodecConfig::default() }.for_shape(image).unwrap_err();
        assert!(err.contains("28x28 images do not divide into codes of 8x8"), "{err}");
    }
}
