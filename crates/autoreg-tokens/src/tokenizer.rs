use crate::{TokenError, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Ids of the special tokens that every tokenizer reserves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Specials {
    /// Begin of sequence: every document starts with it, and sampling starts from it.
    pub bos: u32,
    /// End of sequence: every document ends with it, and sampling stops at it.
    pub eos: u32,
    /// Padding, for batches of unequal length.
    pub pad: u32,
}

impl Specials {
    /// Three specials placed right after `n` ordinary tokens: `n`, `n + 1`, `n + 2`.
    pub fn after(n: u32) -> Self {
        Self { bos: n, eos: n + 1, pad: n + 2 }
    }

    /// Whether `token` is one of the specials.
    pub fn contains(&self, token: u32) -> bool {
        token == self.bos || token == self.eos || token == self.pad
    }

    /// The name of `token` if it is a special (`<bos>`, `<eos>`, `<pad>`).
    pub fn name(&self, token: u32) -> Option<&'static str> {
        match token {
            t if t == self.bos => Some("<bos>"),
            t if t == self.eos => Some("<eos>"),
            t if t == self.pad => Some("<pad>"),
            _ => None,
        }
    }
}

/// A fitted tokenizer: turns a file's bytes into documents of token ids and back.
///
/// Object safe, so that the modality can be chosen at run time (`Box<dyn Tokenizer>`).
/// Every document is `BOS ... EOS`; ids are `0..vocab_size()`.
pub trait Tokenizer: Send + Sync {
    /// The modality, as written in `[tokenizer] kind` (`"text"`, `"midi"`, ...).
    fn kind(&self) -> &'static str;

    /// Number of token ids, specials included.
    fn vocab_size(&self) -> usize;

    /// The special tokens.
    fn specials(&self) -> Specials;

    /// A readable name for `token` (`'a'`, `Pitch_60`, `<eos>`); `None` if out of range.
    fn token_name(&self, token: u32) -> Option<String>;

    /// Extension of the files this tokenizer reads and writes, without the dot.
    fn extension(&self) -> &'static str;

    /// Encodes the contents of one file into documents, each `BOS ... EOS`.
    /// `name` identifies the input in errors (usually its path).
    fn encode(&self, bytes: &[u8], name: &str) -> Result<Vec<Vec<u32>>, TokenError>;

    /// Decodes tokens into the contents of a file. Specials are skipped; decoding stops
    /// at the first EOS. Out-of-range ids are an error.
    fn decode(&self, tokens: &[u32]) -> Result<Vec<u8>, TokenError>;

    /// Reads and encodes the file at `path`.
    fn encode_file(&self, path: &Path) -> Result<Vec<Vec<u32>>, TokenError> {
        let bytes = std::fs::read(path).map_err(|e| TokenError::io(path, e))?;
        self.encode(&bytes, &path.display().to_string())
    }

    /// Decodes `tokens` and writes the file at `path` atomically.
    fn decode_to_file(&self, tokens: &[u32], path: &Path) -> Result<(), TokenError> {
        write_atomic(path, &self.decode(tokens)?)
    }

    /// Checks that every token is inside the vocabulary.
    fn check_range(&self, tokens: &[u32]) -> Result<(), TokenError> {
        let vocab_size = self.vocab_size();
        match tokens.iter().position(|&t| t as usize >= vocab_size) {
            Some(position) => {
                Err(TokenError::OutOfRange { token: tokens[position], position, vocab_size })
            }
            None => Ok(()),
        }
    }
}

/// A tokenizer's configuration, as written in `[tokenizer]`: builds the tokenizer,
/// fitting what it learns from data (a character vocabulary, a palette) on `files`.
pub trait TokenizerBuilder {
    /// The tokenizer it builds.
    type Tokenizer: Tokenizer;

    /// Builds the tokenizer. Files that cannot be read are skipped here; encoding
    /// reports them.
    fn build(&self, files: &[PathBuf]) -> Result<Self::Tokenizer, TokenError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_after_n_are_named() {
        let s = Specials::after(10);
        assert_eq!((s.bos, s.eos, s.pad), (10, 11, 12));
        assert_eq!(s.name(11), Some("<eos>"));
        assert_eq!(s.name(9), None);
        assert!(s.contains(12) && !s.contains(0));
    }
}
