//! What can go wrong with a codec.

use std::path::PathBuf;

/// An error of training, saving, loading or running a codec.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A setting is not valid.
    #[error("[tokenizer.codec]: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A weights file is not the codec's.
    #[error("{}: {reason}", path.display())]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The data cannot train a codec.
    #[error("cannot train the codec: {0}")]
    Data(String),
    /// libtorch failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl CodecError {
    /// A [`CodecError::Weights`] error for `path`.
    pub fn weights(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Weights { path: path.into(), reason: reason.into() }
    }
}

impl From<CodecError> for autoreg_tokens::TokenError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Io { path, source } => Self::Io { path, source },
            CodecError::Weights { path, reason } => Self::format(path.display().to_string(), reason),
            other => Self::Fit { kind: "codec", reason: other.to_string() },
        }
    }
}
