//! The first stages of a tokenizer, one per modality: a codec (file ⇄ typed document,
//! inside the modality's crate) and its base vocabulary (document ⇄ base ids), seen by
//! shared code as one [`Modality`]; and the optional extras a modality provides.

use crate::{Frames, Parts, Spans, Specials, TokenError};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One input: a file's bytes, where they came from, and an optional class label.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// Where the bytes came from. It names the input in errors; a modality may read
    /// files beside it or a label from its name.
    pub path: &'a Path,
    /// The file's contents.
    pub bytes: &'a [u8],
    /// The input's class, when the caller knows it; otherwise a conditional modality
    /// takes it from `path` (see the modality's docs).
    pub label: Option<&'a str>,
}

impl<'a> Source<'a> {
    /// The file at `path` with contents `bytes`, without a label.
    pub fn new(path: &'a Path, bytes: &'a [u8]) -> Self {
        Self { path, bytes, label: None }
    }

    /// The input's name in errors: its path.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// A file decoded from ids: its bytes, its extension, and how much was repaired.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The file's contents.
    pub bytes: Vec<u8>,
    /// The extension to write it with, without the dot.
    pub extension: String,
    /// How many ids broke the modality's grammar and were skipped or completed.
    pub repairs: usize,
    /// Whether the file reads as it is on a terminal, so that `autoreg sample` prints it.
    pub printable: bool,
}

/// Where a subword stage's merges stop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Split {
    /// Merges may cross any symbol.
    #[default]
    None,
    /// GPT-2's byte-level words: merges stay inside runs of letters, of digits, of
    /// punctuation, of whitespace. Only for modalities whose symbols are bytes.
    Words,
    /// Merges never cross the start of a token with this name.
    Before(String),
}

impl TryFrom<String> for Split {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "none" => Ok(Self::None),
            "words" => Ok(Self::Words),
            "" => Err("an empty split: give \"none\", \"words\" or the name of a token".into()),
            _ => Ok(Self::Before(s)),
        }
    }
}

impl From<Split> for String {
    fn from(split: Split) -> String {
        match split {
            Split::None => "none".into(),
            Split::Words => "words".into(),
            Split::Before(name) => name,
        }
    }
}

/// Which base ids a subword stage may merge, and where it stops by default.
#[derive(Clone, Debug, PartialEq)]
pub struct MergeRule {
    /// Ids `0..symbols` may merge; the ids after them (classes, specials) never do. With
    /// none, the modality takes no subword stage.
    pub symbols: u32,
    /// Whether symbol `b` is byte `b` (then `symbols` is 256): merges may follow words.
    pub bytes: bool,
    /// The split used when the config names none.
    pub default_split: Split,
}

/// A modality's base vocabulary: files in, base ids out, and back.
///
/// Object safe, so that the modality is chosen at run time. Every document is
/// `BOS ... EOS`; base ids are `0..vocab_size()`.
pub trait Modality: Send + Sync {
    /// The modality, as written in `[tokenizer] kind`.
    fn kind(&self) -> &'static str;

    /// Number of base ids, specials included.
    fn vocab_size(&self) -> usize;

    /// The special tokens.
    fn specials(&self) -> Specials;

    /// A readable name for base id `id` (`'a'`, `Pitch_60`, `<eos>`); `None` if out of range.
    fn token_name(&self, id: u32) -> Option<String>;

    /// What a subword stage may merge.
    fn merge_rule(&self) -> MergeRule;

    /// Whether this modality's files are text that may be cut between any two
    /// characters: a long prompt file then keeps only its last bytes, those the model
    /// can see.
    fn reads_text(&self) -> bool {
        false
    }

    /// Encodes one input into documents, each `BOS ... EOS`.
    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError>;

    /// Decodes base ids, all inside the vocabulary, leniently: specials are skipped,
    /// decoding stops at the first EOS, and ids that break the modality's grammar are
    /// skipped or completed and counted. An error is a failure to write the file.
    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError>;

    /// The optional capabilities this modality has.
    fn extras(&self) -> Extras<'_>;
}

/// The optional capabilities of a modality, each `None` when it has not that one.
#[derive(Clone, Copy, Default)]
pub struct Extras<'a> {
    /// Classes to condition on (`--class`).
    pub classes: Option<&'a dyn Classes>,
    /// Prompts cut in the modality's own unit (`--prompt-length`).
    pub prompts: Option<&'a dyn Prompts>,
    /// Files written beside each decoded sample.
    pub companions: Option<&'a dyn Companions>,
    /// One picture of many samples.
    pub overview: Option<&'a dyn Overview>,
    /// Training-time augmentation of windows.
    pub augment: Option<&'a dyn Augment>,
    /// The modality's own unit for evaluation.
    pub units: Option<&'a dyn Units>,
    /// Other files that encoding a file reads.
    pub inputs: Option<&'a dyn Inputs>,
    /// Frames of equal length, each opened by a frame token.
    pub frames: Option<&'a dyn Frames>,
    /// Titles that files carry, for captions.
    pub titles: Option<&'a dyn Titles>,
    /// The parts of a mixture of tokenizers.
    pub parts: Option<&'a dyn Parts>,
    /// Ids that are values of a signal, which a learned codec may encode.
    pub signal: Option<&'a dyn Signal>,
    /// Ids that are characters of text, which other tools' tokenizers can spell.
    pub characters: Option<&'a dyn Characters>,
    /// Files encoded in pieces, so that a large one is never held whole.
    pub pieces: Option<&'a dyn Pieces>,
    /// Units (lines, bars, rows) that fill in the middle cuts on.
    pub spans: Option<&'a dyn Spans>,
}

/// Files of one document each that may be encoded in pieces (text, code), so that a
/// file larger than memory is never held whole: the document's ids are the pieces' ids
/// end to end, the same as [`Modality::encode`] gives for the whole file.
pub trait Pieces: Sync {
    /// Where a piece that starts with `bytes`, which do not reach the file's end, may
    /// end: the length of the longest prefix that ends between two tokens (after a
    /// whole UTF-8 character, say).
    fn piece_end(&self, bytes: &[u8]) -> usize;

    /// The ids of the piece `source.bytes`, found at byte `offset` of `source.path`: the
    /// first piece (at offset 0) opens the document (BOS and what follows it) and the
    /// `last` closes it (EOS). Errors name the byte of the file.
    fn encode_piece(&self, source: &Source, offset: u64, last: bool) -> Result<Vec<u32>, TokenError>;
}

/// Ids that are the characters of text: ordinary id `i` is `chars()[i]`.
pub trait Characters {
    /// The characters, in the order of their ids.
    fn chars(&self) -> &[char];
}

/// Classes that documents start with: `BOS Class_k ...`.
pub trait Classes {
    /// The class names, class 0 first.
    fn names(&self) -> &[String];

    /// The base ids of the class tokens, one per name, in order.
    fn ids(&self) -> Range<u32>;

    /// Whether a file's class is the file's own (a code file's language is its
    /// extension's), so that a prompt file has one; else a prompt's class is given or
    /// guessed.
    fn of_file(&self) -> bool {
        false
    }

    /// Whether every frame repeats the class after its frame token (`BOS Class_k
    /// [FRAME Class_k ...]...`), so that windows of frames, which start at a frame,
    /// hold it too: a class prompt then opens the first frame with it.
    fn in_every_frame(&self) -> bool {
        false
    }
}

/// Prompts cut in the modality's own unit.
pub trait Prompts {
    /// The unit, a plural noun, as `autoreg info` shows it.
    fn unit(&self) -> &'static str;

    /// The base ids of a prompt: the first document of `source` without its EOS, cut
    /// to its first `length` units when given.
    fn prompt(&self, source: &Source, length: Option<f64>) -> Result<Vec<u32>, TokenError>;
}

/// Files written beside a decoded sample (a picture of it, a preview).
pub trait Companions {
    /// Writes the companions of the sample of base ids `ids` decoded to `path`;
    /// returns their paths.
    fn write_companions(&self, ids: &[u32], path: &Path) -> Result<Vec<PathBuf>, TokenError>;
}

/// One picture of many samples.
pub trait Overview {
    /// Writes a picture of samples (base ids) to `path`, one row per entry of `rows`.
    fn write_overview(&self, rows: &[Vec<Vec<u32>>], path: &Path) -> Result<(), TokenError>;
}

/// Training-time augmentation.
pub trait Augment {
    /// Augments a window of base ids in place (a transposition, say), the variant
    /// chosen by `draw`.
    fn augment(&self, window: &mut [u32], draw: u64);
}

/// A unit to report evaluation in, besides tokens.
pub trait Units {
    /// The unit (`"note"`, `"dim"`, `"sample"`).
    fn unit(&self) -> &'static str;

    /// How many units a document of base ids holds.
    fn count(&self, doc: &[u32]) -> usize;

    /// A published figure of another setup to hold this modality's figures against,
    /// printed under `autoreg eval`'s table of frames; none by default.
    fn anchor(&self) -> Option<&'static str> {
        None
    }
}

/// The shape of a signal that a modality's ids carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "dims", rename_all = "kebab-case")]
pub enum SignalShape {
    /// One channel over time, at `rate` values per second (audio).
    Wave {
        /// Values per second.
        rate: u32,
    },
    /// An image of `height` rows of `width` pixels, each `channels` values (1 grey, 3
    /// RGB), in raster order with a pixel's channels together.
    Image {
        /// Pixels per row.
        width: u32,
        /// Rows.
        height: u32,
        /// Values per pixel.
        channels: u32,
    },
}

/// Ids that carry a signal's values: ids `0..symbols()` each stand for one value in
/// `[-1, 1]`, and the ids after them (classes, specials, frame tokens) carry none. A
/// learned codec encodes each run of value ids (a recording, an image, a frame) into
/// codes and decodes codes back to value ids.
pub trait Signal {
    /// How many ids are values: ids `0..symbols()`.
    fn symbols(&self) -> u32;

    /// The signal's shape.
    fn shape(&self) -> SignalShape;

    /// The values of value ids, each in `[-1, 1]`.
    fn values(&self, ids: &[u32]) -> Vec<f32>;

    /// The value ids nearest to `values`.
    fn ids(&self, values: &[f32]) -> Vec<u32>;
}

/// Other files that encoding a file reads.
pub trait Inputs {
    /// The other files that encoding `path` reads too (a labels file beside it). They
    /// key the data cache with `path`.
    fn companion_inputs(&self, path: &Path) -> Vec<PathBuf>;
}

/// Titles that files carry.
pub trait Titles {
    /// The title that `source` carries (a MIDI file's track name), if any.
    fn title(&self, source: &Source) -> Result<Option<String>, TokenError>;
}

/// A modality's configuration, as written in `[tokenizer]`: builds the modality,
/// fitting what it learns from data (a character vocabulary, a palette) on `files`.
pub trait ModalityBuilder {
    /// The modality it builds.
    type Modality: Modality;

    /// Extensions (lowercase, without the dot) of the files taken from a data folder.
    fn extensions(&self) -> Vec<String>;

    /// Builds the modality. Files that cannot be read are skipped here; encoding
    /// reports them.
    fn build(&self, files: &[PathBuf]) -> Result<Self::Modality, TokenError>;
}
