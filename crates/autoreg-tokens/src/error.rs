use std::path::PathBuf;

/// What can go wrong while fitting, encoding, decoding, saving or loading a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An input is not valid for this tokenizer (bad encoding, unknown symbol, corrupt file).
    #[error("{name}: {reason}")]
    Format {
        /// The file, or another name for the input.
        name: String,
        /// What is wrong, and where.
        reason: String,
    },
    /// A token id outside the vocabulary.
    #[error("token {token} at position {position} is outside the vocabulary of {vocab_size}")]
    OutOfRange {
        /// The token.
        token: u32,
        /// Its index in the sequence.
        position: usize,
        /// The vocabulary size.
        vocab_size: usize,
    },
    /// A fitted tokenizer could not be learned from the given files.
    #[error("cannot fit the {kind} tokenizer: {reason}")]
    Fit {
        /// The tokenizer kind.
        kind: &'static str,
        /// Why.
        reason: String,
    },
    /// A saved tokenizer is not valid JSON for its kind.
    #[error("{}: {source}", path.display())]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// The parse error, with line and column.
        source: serde_json::Error,
    },
}

impl TokenError {
    /// An [`TokenError::Io`] error for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// A [`TokenError::Format`] error for the input called `name`.
    pub fn format(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Format { name: name.into(), reason: reason.into() }
    }
}
