use crate::{TokenError, write_atomic};
use serde::{Deserialize, Serialize};
use std::ops::Range;
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

/// How much of a prompt file to keep, in the modality's own unit
/// (`--prompt-bars`, `--prompt-rows`, `--prompt-seconds`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PromptCut {
    /// The whole file.
    Whole,
    /// The first N bars of a piece of music.
    Bars(u32),
    /// The first N rows of an image.
    Rows(u32),
    /// The first N seconds of a recording.
    Seconds(f64),
}

impl std::fmt::Display for PromptCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Whole => f.write_str("the whole file"),
            Self::Bars(n) => write!(f, "{n} bars"),
            Self::Rows(n) => write!(f, "{n} rows"),
            Self::Seconds(s) => write!(f, "{s} seconds"),
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

    /// Encodes a prompt file: its first document without the final EOS, cut to `cut`.
    /// The default supports [`PromptCut::Whole`] only.
    fn encode_prompt(&self, bytes: &[u8], name: &str, cut: PromptCut) -> Result<Vec<u32>, TokenError> {
        if cut != PromptCut::Whole {
            return Err(TokenError::format(name, format!("a {} prompt cannot be cut to {cut}", self.kind())));
        }
        let mut doc = self.encode(bytes, name)?.into_iter().next().unwrap_or_default();
        if doc.last() == Some(&self.specials().eos) {
            doc.pop();
        }
        if doc.is_empty() {
            return Err(TokenError::format(name, "the prompt holds nothing to encode"));
        }
        Ok(doc)
    }

    /// Names of the classes this tokenizer conditions on (`"0"`..`"9"` for digits);
    /// empty when it has none.
    fn classes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Ids of the class tokens, class 0 first: one per entry of [`Tokenizer::classes`].
    /// The default is none.
    fn class_tokens(&self) -> Range<u32> {
        0..0
    }

    /// The tokens that start a sample of class number `class` (`BOS Class_k`).
    fn class_prompt(&self, class: usize) -> Result<Vec<u32>, TokenError> {
        let ids = self.class_tokens();
        let n = ids.len();
        if class < n {
            return Ok(vec![self.specials().bos, ids.start + class as u32]);
        }
        Err(TokenError::format(
            "--class",
            if n == 0 {
                format!("this {} tokenizer has no classes (it is not conditional)", self.kind())
            } else {
                format!("class {class} is out of range: there are {n} classes (0..{})", n - 1)
            },
        ))
    }

    /// Writes companion files for a sample decoded to `path` (a piano roll, an audio
    /// preview, a waveform plot) and returns their paths. The default writes none.
    fn write_companions(&self, _tokens: &[u32], _path: &Path) -> Result<Vec<PathBuf>, TokenError> {
        Ok(Vec::new())
    }

    /// Writes one picture of many samples (an image grid, one row per entry of `rows`)
    /// to `path` (PNG). Returns `false` when the modality has no such picture.
    fn write_overview(&self, _rows: &[Vec<Vec<u32>>], _path: &Path) -> Result<bool, TokenError> {
        Ok(false)
    }

    /// Augments a training window in place (a transposition, say), the variant chosen
    /// by `draw`. The default leaves it unchanged.
    fn augment(&self, _window: &mut [u32], _draw: u64) {}

    /// How many tokens at the start of `doc` describe the whole document: 2 for
    /// `BOS Class_k`, else 1 (BOS). Training windows that start inside a document keep
    /// them in front.
    fn prefix_len(&self, doc: &[u32]) -> usize {
        match doc {
            [bos, class, ..] if *bos == self.specials().bos && self.class_tokens().contains(class) => 2,
            _ => 1,
        }
    }

    /// The modality's own unit for evaluation (`"note"`, `"dim"`, `"sample"`), if any.
    fn unit(&self) -> Option<&'static str> {
        None
    }

    /// How many units (see [`Tokenizer::unit`]) the document `doc` holds.
    fn count_units(&self, _doc: &[u32]) -> usize {
        0
    }

    /// Other files that encoding `path` reads too (the labels beside an IDX image file).
    /// They key the data cache with `path`. The default is none.
    fn companion_inputs(&self, _path: &Path) -> Vec<PathBuf> {
        Vec::new()
    }

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
            Some(position) => Err(TokenError::OutOfRange { token: tokens[position], position, vocab_size }),
            None => Ok(()),
        }
    }
}

/// A tokenizer's configuration, as written in `[tokenizer]`: builds the tokenizer,
/// fitting what it learns from data (a character vocabulary, a palette) on `files`.
pub trait TokenizerBuilder {
    /// The tokenizer it builds.
    type Tokenizer: Tokenizer;

    /// Extensions (lowercase, without the dot) of the files taken from a data folder.
    fn extensions(&self) -> &'static [&'static str];

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
