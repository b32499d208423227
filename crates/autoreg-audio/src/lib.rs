//! Audio tokenizer for autoreg, for WaveNet-style sample-level modelling: a WAV file
//! becomes one token per sample and back.
//!
//! Encoding reads the WAV (8, 16, 24 or 32-bit integer, or 32-bit float; any number of
//! channels, mixed down to mono; any rate, resampled to `sample_rate`), optionally
//! peak-normalises it and trims leading and trailing silence, then quantizes every sample
//! to `2^bits` levels, mu-law (μ = 2^bits − 1) or linear. A document is
//! `BOS [Label_k] samples... EOS`; a recording longer than `max_samples` is cut into
//! several documents. Decoding writes 16-bit PCM mono WAV at `sample_rate`. Each kind
//! of lossy conversion (channels mixed down, resampling, samples finer than 16 bits) is
//! logged as a warning once per tokenizer, naming the first file. A header that
//! declares more samples than the file holds, and resampling to more than 2^28
//! samples, are errors.
//!
//! Token ids: samples `0..2^bits`, then one label per class, then BOS, EOS and PAD.
//! The sample ids are a signal ([`autoreg_tokens::Signal`]): a learned codec
//! (`[tokenizer.codec]`, the `autoreg-codec` crate) turns each run of them into a few
//! codes per second, which a model of whole words needs.
//!
//! Labels come from the file name through `label_pattern`, a template matched against
//! the whole file name (case-insensitive): `{label}` captures the label, `{_}` matches
//! any non-empty text, `{#}` a run of digits, everything else is literal
//! ([`autoreg_tokens::LabelPattern`]). Each placeholder takes as few
//! characters as it can, left to right, so `"{label}_{_}.wav"` (the default) takes
//! the digit from FSDD names such as `7_jackson_32.wav`. With `conditional = true` the
//! class names are learned from the training file names (sorted) and every document
//! starts `BOS Label_k`; a training file whose name gives no known label is an error.

mod config;
mod level;
mod lossy;
mod quantize;
mod read;
mod resample;
mod snr;
mod tokenizer;
mod waveform;
mod write;

pub use config::{AudioConfig, Quantization};
pub use snr::snr_db;
pub use tokenizer::AudioTokenizer;
