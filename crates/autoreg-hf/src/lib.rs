//! Models in and out of autoreg: a Hugging Face GPT-2 folder (`config.json` and
//! `model.safetensors`) read into autoreg's decoder, and autoreg's decoder written as
//! such a folder or as a GGUF file for llama.cpp.
//!
//! autoreg's decoder with learned positions, GELU and LayerNorm is GPT-2: the same
//! tensors under the same names. Only the layout differs: `transformers` keeps GPT-2's
//! `Conv1D` weights as (in, out) where autoreg's linear layers are (out, in), and adds
//! the prefix `transformer.`. This crate maps one onto the other ([`weights`]), checks
//! the configs ([`config`]) and writes GGUF ([`gguf`]). Tokenizers are the caller's.

pub mod config;
pub mod gguf;
pub mod weights;

use std::path::PathBuf;

pub use config::{Gpt2Config, exportable};
pub use weights::{from_hf, read_weights, to_gguf, to_hf};

/// What cannot be read, converted or written; each names the file or the key.
#[derive(Debug, thiserror::Error)]
pub enum HfError {
    /// A file that is not what it should be.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A model that the other format cannot express.
    #[error("{0}")]
    Unsupported(String),
    /// A file that cannot be written.
    #[error(transparent)]
    Write(#[from] autoreg_tokens::TokenError),
}

impl HfError {
    /// An error about `path`.
    pub fn file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::File { path: path.into(), reason: reason.into() }
    }
}
