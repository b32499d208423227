//! `[tokenizer.codec]`: the codec's shape and its training budget.

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
    /// Values per spectral frame, the hop of the short-time Fourier transform (default
    /// 80: 10 ms at 8 kHz). The window is the power of two at or above 3 hops.
    pub hop: usize,
    /// Spectral frames per code: 1, 2, 4 or 8 (default 2: 50 codes per second at 8 kHz).
    pub frames_per_code: usize,
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
    /// Spectral frames per training crop, a multiple of `frames_per_code` (default 64).
    pub crop_frames: usize,
    /// Peak learning rate of AdamW (default 2e-3), after 100 steps of warm-up, then a
    /// cosine decay to a tenth of it.
    pub lr: f64,
    /// Seed of the initial weights and of the crops drawn (default 0).
    pub seed: u64,
    /// Griffin-Lim iterations that recover the phase when decoding (default 32).
    pub griffin_lim: usize,
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            from: None,
            hop: 80,
            frames_per_code: 2,
            codebook_size: 512,
            code_dim: 64,
            channels: 128,
            steps: 2000,
            seconds: None,
            batch_size: 32,
            crop_frames: 64,
            lr: 2e-3,
            seed: 0,
            griffin_lim: 32,
        }
    }
}

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
        range("hop", self.hop, 1, 4096)?;
        if ![1, 2, 4, 8].contains(&self.frames_per_code) {
            return Err(format!("`frames_per_code` must be 1, 2, 4 or 8, not {}", self.frames_per_code));
        }
        range("codebook_size", self.codebook_size, 2, 65536)?;
        range("code_dim", self.code_dim, 1, 1024)?;
        range("channels", self.channels, 1, 2048)?;
        range("steps", self.steps, 1, 10_000_000)?;
        range("batch_size", self.batch_size, 1, 65536)?;
        range("crop_frames", self.crop_frames, self.frames_per_code, 65536)?;
        if !self.crop_frames.is_multiple_of(self.frames_per_code) {
            return Err(format!(
                "`crop_frames` ({}) must be a multiple of `frames_per_code` ({})",
                self.crop_frames, self.frames_per_code
            ));
        }
        range("griffin_lim", self.griffin_lim, 0, 1000)?;
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

    /// The STFT window: the power of two at or above three hops.
    pub fn n_fft(&self) -> usize {
        (3 * self.hop).next_power_of_two()
    }

    /// Values that one code stands for.
    pub fn values_per_code(&self) -> usize {
        self.hop * self.frames_per_code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_keys_are_named() {
        assert_eq!(CodecConfig::default().validate(), Ok(()));
        assert_eq!(CodecConfig::default().n_fft(), 256);
        let bad = CodecConfig { frames_per_code: 3, ..CodecConfig::default() };
        assert!(bad.validate().unwrap_err().contains("`frames_per_code`"));
        let bad = CodecConfig { crop_frames: 63, ..CodecConfig::default() };
        assert!(bad.validate().unwrap_err().contains("multiple of `frames_per_code`"));
        let bad = CodecConfig { from: Some("runs/x".into()), steps: 5, ..CodecConfig::default() };
        assert!(bad.validate().unwrap_err().contains("leave out the other keys"));
        let err = toml::from_str::<CodecConfig>("codebook = 5").unwrap_err().to_string();
        assert!(err.contains("codebook"), "{err}");
    }
}
