//! The `[tokenizer] kind = "audio"` section and fitting the class names.

use crate::read::MAX_RATE;
use crate::resample::MAX_SAMPLES;
use crate::tokenizer::AudioTokenizer;
use autoreg_tokens::LabelPattern;
use autoreg_tokens::{ModalityBuilder, TokenError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// How a sample in `[-1, 1]` is mapped to one of `2^bits` levels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quantization {
    /// Mu-law companding with μ = 2^bits − 1, then uniform levels (`"mu-law"`).
    #[default]
    MuLaw,
    /// Uniform levels over `[-1, 1]` (`"linear"`).
    Linear,
}

/// `[tokenizer] kind = "audio"` in a config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioConfig {
    /// Rate in Hz that every recording is resampled to, and decoded at (default 8000).
    pub sample_rate: u32,
    /// `"mu-law"` (default) or `"linear"`.
    pub quantization: Quantization,
    /// Bits per sample token, 2 to 16: `2^bits` levels (default 8).
    pub bits: u32,
    /// Most samples in one document, at most 2^28; longer recordings are cut into
    /// several (default 16000, 2 s at 8 kHz; 0 = never cut).
    pub max_samples: usize,
    /// Trims leading and trailing samples whose magnitude is at most this threshold
    /// (full scale 1.0, after normalisation); absent (default) = no trimming.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trim_silence: Option<f32>,
    /// Scales every recording so that its peak magnitude is 1.0 (default false).
    pub normalize: bool,
    /// Puts a label token, taken from the file name, after BOS (default false).
    pub conditional: bool,
    /// Template that finds the label in a file name (default `"{label}_{_}.wav"`); see
    /// the crate documentation.
    pub label_pattern: String,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            quantization: Quantization::MuLaw,
            bits: 8,
            max_samples: 16000,
            trim_silence: None,
            normalize: false,
            conditional: false,
            label_pattern: "{label}_{_}.wav".into(),
        }
    }
}

impl AudioConfig {
    /// Checks every setting, before any file is read; the reason names the offending
    /// key and the values it allows.
    pub(crate) fn validate(&self) -> Result<LabelPattern, String> {
        if !(1..=MAX_RATE).contains(&self.sample_rate) {
            return Err(format!("`sample_rate` must be between 1 and {MAX_RATE} Hz, not {}", self.sample_rate));
        }
        if !(2..=16).contains(&self.bits) {
            return Err(format!("`bits` must be between 2 and 16, not {}", self.bits));
        }
        if self.max_samples > MAX_SAMPLES {
            return Err(format!(
                "`max_samples` must be at most {MAX_SAMPLES} (0 = never cut), not {}",
                self.max_samples
            ));
        }
        if let Some(t) = self.trim_silence
            && !(0.0..1.0).contains(&t)
        {
            return Err(format!("`trim_silence` must be at least 0 and below 1, not {t}"));
        }
        LabelPattern::new(&self.label_pattern).map_err(|e| format!("`label_pattern`: {e}"))
    }
}

impl ModalityBuilder for AudioConfig {
    type Modality = AudioTokenizer;

    fn extensions(&self) -> Vec<String> {
        vec!["wav".into()]
    }

    /// Learns the sorted class names from the file names when `conditional`; names that
    /// do not match `label_pattern` are skipped here (encoding reports them).
    fn build(&self, files: &[PathBuf]) -> Result<AudioTokenizer, TokenError> {
        let pattern = self.validate().map_err(|reason| TokenError::Fit { kind: "audio", reason })?;
        let mut classes = BTreeSet::new();
        if self.conditional {
            let names = files.iter().filter_map(|f| f.file_name()).map(|n| n.to_string_lossy());
            classes.extend(names.filter_map(|n| pattern.label(&n).map(str::to_owned)));
            if classes.is_empty() {
                return Err(TokenError::Fit {
                    kind: "audio",
                    reason: format!("no file name matches the label pattern {:?}", self.label_pattern),
                });
            }
        }
        AudioTokenizer::new(self.clone(), classes.into_iter().collect())
    }
}
