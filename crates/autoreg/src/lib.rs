//! autoreg: autoregressive sequence modelling across modalities.
//!
//! A tokenizer (one crate per modality) turns files into tokens, one GPT decoder learns
//! next-token prediction from a TOML config, a sampler generates tokens, and the
//! tokenizer turns them back into files. This crate is the `autoreg` command and a
//! facade over the others.

pub mod cli;
pub mod commands;
pub mod config;
pub mod errors;
pub mod page;
pub mod prepare;
pub mod progress;
pub mod registry;
pub mod run;
pub mod sources;
pub mod tools;

pub use autoreg_audio as audio;
pub use autoreg_bpe as bpe;
pub use autoreg_code as code;
pub use autoreg_midi as midi;
pub use autoreg_model as model;
pub use autoreg_pixels as pixels;
pub use autoreg_text as text;
pub use autoreg_tokens as tokens;
pub use autoreg_train as train;
pub use autoreg_video as video;
pub use config::Config;
pub use registry::{ModalityConfig, SavedModality, SavedTokenizer, TokenizerConfig};
