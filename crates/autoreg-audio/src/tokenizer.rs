//! The fitted audio tokenizer.

use crate::config::AudioConfig;
use crate::level::{normalize, trim_silence};
use crate::lossy::{Lossy, Reported};
use crate::quantize::Quantizer;
use crate::read::read_wav;
use crate::resample::resample;
use crate::snr::snr_db;
use crate::waveform::waveform_png;
use crate::write::wav_bytes;
use autoreg_tokens::LabelPattern;
use autoreg_tokens::{
    Classes, Companions, Decoded, Extras, MergeRule, Modality, Prompts, Signal, SignalShape, Source, Specials, Split,
    TokenError, Units, write_atomic,
};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A fitted audio tokenizer, saved in `tokenizer.json` as
/// `{"kind": "audio", "config": {...}, "classes": ["0", "1", ...]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "AudioTokenizerRepr", into = "AudioTokenizerRepr")]
pub struct AudioTokenizer {
    config: AudioConfig,
    /// Class names, sorted and unique; empty unless `config.conditional`.
    classes: Vec<String>,
    pattern: LabelPattern,
    quantizer: Quantizer,
    /// The lossy conversions already reported; not saved.
    reported: Reported,
}

/// The saved form of [`AudioTokenizer`], validated on load.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AudioTokenizerRepr {
    config: AudioConfig,
    #[serde(default)]
    classes: Vec<String>,
}

impl TryFrom<AudioTokenizerRepr> for AudioTokenizer {
    type Error = TokenError;

    fn try_from(repr: AudioTokenizerRepr) -> Result<Self, TokenError> {
        Self::new(repr.config, repr.classes)
    }
}

impl From<AudioTokenizer> for AudioTokenizerRepr {
    fn from(t: AudioTokenizer) -> Self {
        Self { config: t.config, classes: t.classes }
    }
}

impl PartialEq for AudioTokenizer {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config && self.classes == other.classes
    }
}

impl AudioTokenizer {
    /// A tokenizer with `config` and the class names `classes` (sorted and unique, empty
    /// unless `config.conditional`). A [`TokenError::Fit`] names the offending setting.
    pub fn new(config: AudioConfig, classes: Vec<String>) -> Result<Self, TokenError> {
        let fit = |reason: String| TokenError::Fit { kind: "audio", reason };
        let pattern = config.validate().map_err(fit)?;
        if !classes.windows(2).all(|w| w[0] < w[1]) {
            return Err(fit("the class names must be sorted and unique".into()));
        }
        if !config.conditional && !classes.is_empty() {
            return Err(fit("an audio tokenizer that is not conditional has no classes".into()));
        }
        let quantizer = Quantizer::new(config.quantization, config.bits);
        Ok(Self { config, classes, pattern, quantizer, reported: Reported::default() })
    }

    /// The settings this tokenizer was built with.
    pub fn config(&self) -> &AudioConfig {
        &self.config
    }

    /// Number of sample levels, `2^bits`: sample tokens are `0..levels()`.
    pub fn levels(&self) -> u32 {
        1 << self.config.bits
    }

    /// The recording in a WAV file as it is tokenized: mono, at `sample_rate`,
    /// normalised and trimmed as configured, before quantization. `name` identifies the
    /// file in errors and in the warning, once per tokenizer, of each kind of lossy
    /// conversion (channels mixed, resampling, finer samples).
    pub fn load_samples(&self, bytes: &[u8], name: &str) -> Result<Vec<f32>, TokenError> {
        let mono = read_wav(bytes, name)?;
        let rate = self.config.sample_rate;
        let mut samples = resample(mono.samples, mono.spec.sample_rate, rate, name)?;
        Lossy::of_spec(&mono.spec, rate).into_iter().for_each(|lossy| self.reported.warn(lossy.kind(), name, &lossy));
        if self.config.normalize {
            normalize(&mut samples);
        }
        if let Some(threshold) = self.config.trim_silence {
            samples = trim_silence(&samples, threshold).to_vec();
        }
        Ok(samples)
    }

    /// The sample tokens of `samples`, without specials or labels.
    pub fn quantize(&self, samples: &[f32]) -> Vec<u32> {
        samples.iter().map(|&s| self.quantizer.level(s)).collect()
    }

    /// The samples that `tokens` decode to: sample tokens only, stopping at the first
    /// EOS; other ids are skipped.
    pub fn decode_samples(&self, tokens: &[u32]) -> Vec<f32> {
        let eos = self.specials().eos;
        let levels = self.levels();
        tokens.iter().take_while(|&&t| t != eos).filter(|&&t| t < levels).map(|&t| self.quantizer.value(t)).collect()
    }

    /// Signal-to-noise ratio in dB of `samples` after quantizing and decoding them.
    pub fn round_trip_snr_db(&self, samples: &[f32]) -> f64 {
        let decoded: Vec<f32> = self.quantize(samples).into_iter().map(|t| self.quantizer.value(t)).collect();
        snr_db(samples, &decoded)
    }

    /// The label token of `source`: its label, else the one its file name gives;
    /// `Ok(None)` when the name does not match `label_pattern`; an error when the label
    /// is not one of the classes.
    fn label_token(&self, source: &Source) -> Result<Option<u32>, TokenError> {
        let file_name = source.path.file_name().unwrap_or(source.path.as_os_str()).to_string_lossy();
        let Some(label) = source.label.or_else(|| self.pattern.label(&file_name)) else {
            return Ok(None);
        };
        match self.classes.binary_search_by(|c| c.as_str().cmp(label)) {
            Ok(k) => Ok(Some(self.levels() + k as u32)),
            Err(_) => Err(TokenError::format(
                source.name(),
                format!("label {label:?} is not one of the {} classes {:?}", self.classes.len(), self.classes),
            )),
        }
    }

    /// `BOS [label]`: the start of every document of `source`; with `required`, a
    /// source without a label is an error when conditional.
    fn head(&self, source: &Source, required: bool) -> Result<Vec<u32>, TokenError> {
        let mut head = vec![self.specials().bos];
        if self.config.conditional {
            match self.label_token(source)? {
                Some(label) => head.push(label),
                None if required => {
                    return Err(TokenError::format(
                        source.name(),
                        format!("the file name does not match the label pattern {:?}", self.config.label_pattern),
                    ));
                }
                None => {}
            }
        }
        Ok(head)
    }
}

impl Modality for AudioTokenizer {
    fn kind(&self) -> &'static str {
        "audio"
    }

    fn vocab_size(&self) -> usize {
        Specials::vocab_after(self.levels() as usize + self.classes.len())
    }

    fn specials(&self) -> Specials {
        Specials::after(self.levels() + self.classes.len() as u32)
    }

    fn token_name(&self, token: u32) -> Option<String> {
        if let Some(name) = self.specials().name(token) {
            return Some(name.to_owned());
        }
        match token.checked_sub(self.levels()) {
            None => Some(format!("Sample_{token}")),
            Some(k) => self.classes.get(k as usize).map(|c| format!("Label_{c}")),
        }
    }

    fn merge_rule(&self) -> MergeRule {
        MergeRule { symbols: self.levels(), bytes: false, default_split: Split::None }
    }

    /// `BOS [Label_k] samples... EOS`, one document per `max_samples` samples. When
    /// conditional, the source's label or its file name must give one of the classes.
    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        let head = self.head(source, true)?;
        let tokens = self.quantize(&self.load_samples(source.bytes, &source.name())?);
        let eos = self.specials().eos;
        let window = if self.config.max_samples == 0 { tokens.len() } else { self.config.max_samples };
        let document = |chunk: &[u32]| [head.as_slice(), chunk, &[eos]].concat();
        if tokens.is_empty() {
            return Ok(vec![document(&[])]);
        }
        Ok(tokens.chunks(window).map(document).collect())
    }

    /// Decodes to a mono 16-bit PCM WAV at `sample_rate`; any sample ids make one.
    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        let bytes = wav_bytes(&self.decode_samples(ids), self.config.sample_rate)?;
        Ok(Decoded { bytes, extension: "wav".into(), repairs: 0, printable: false })
    }

    fn extras(&self) -> Extras<'_> {
        Extras {
            classes: Some(self),
            prompts: Some(self),
            companions: Some(self),
            units: Some(self),
            signal: Some(self),
            ..Extras::default()
        }
    }
}

impl Classes for AudioTokenizer {
    fn names(&self) -> &[String] {
        &self.classes
    }

    fn ids(&self) -> Range<u32> {
        self.levels()..self.levels() + self.classes.len() as u32
    }
}

impl Prompts for AudioTokenizer {
    fn unit(&self) -> &'static str {
        "seconds"
    }

    /// `BOS [Label_k] samples...` of the whole recording (not cut into windows) or of
    /// its first `length` seconds. The label is kept when conditional and the source
    /// gives one; a label that is not one of the classes is an error.
    fn prompt(&self, source: &Source, length: Option<f64>) -> Result<Vec<u32>, TokenError> {
        let mut samples = self.load_samples(source.bytes, &source.name())?;
        match length {
            None => {}
            Some(s) if s.is_finite() && s > 0.0 => {
                samples.truncate((s * f64::from(self.config.sample_rate)).round() as usize);
            }
            Some(s) => {
                return Err(TokenError::format(source.name(), format!("a prompt of {s} seconds: must be positive")));
            }
        }
        let mut prompt = self.head(source, false)?;
        prompt.extend(self.quantize(&samples));
        Ok(prompt)
    }
}

impl Companions for AudioTokenizer {
    /// Writes the waveform of the decoded samples to `<stem>.png` beside `path`.
    fn write_companions(&self, ids: &[u32], path: &Path) -> Result<Vec<PathBuf>, TokenError> {
        let samples = self.decode_samples(ids);
        let png_path = path.with_extension("png");
        let png = waveform_png(&samples, self.config.sample_rate).map_err(|e| {
            TokenError::format(png_path.display().to_string(), format!("cannot draw the waveform: {e}"))
        })?;
        write_atomic(&png_path, &png)?;
        Ok(vec![png_path])
    }
}

impl Signal for AudioTokenizer {
    fn symbols(&self) -> u32 {
        self.levels()
    }

    fn shape(&self) -> SignalShape {
        SignalShape::Wave { rate: self.config.sample_rate }
    }

    fn values(&self, ids: &[u32]) -> Vec<f32> {
        ids.iter().map(|&t| self.quantizer.value(t)).collect()
    }

    fn ids(&self, values: &[f32]) -> Vec<u32> {
        self.quantize(values)
    }
}

impl Units for AudioTokenizer {
    fn unit(&self) -> &'static str {
        "sample"
    }

    /// Number of sample ids in `doc`.
    fn count(&self, doc: &[u32]) -> usize {
        let levels = self.levels();
        doc.iter().filter(|&&t| t < levels).count()
    }
}
