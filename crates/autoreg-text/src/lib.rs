//! Text tokenizers: byte-level (256 byte values + specials) and character-level (a
//! vocabulary of the Unicode scalar values seen in the training files + specials).
//!
//! A file is one document, `BOS text EOS`. Character-level never splits a UTF-8
//! character and rejects text that is not UTF-8 or holds characters outside its
//! vocabulary, naming the byte offset. Byte-level accepts any bytes and decodes to the
//! exact bytes, valid UTF-8 or not.

use autoreg_tokens::{
    Characters, Decoded, Extras, Glyph, MergeRule, Modality, ModalityBuilder, Pieces, Source, Spans, Specials, Split,
    TokenError, line_boundaries,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// `bytes`, found at byte `at` of their file, as UTF-8 text, or an error naming the
/// first invalid byte.
fn utf8<'a>(bytes: &'a [u8], name: &str, at: u64) -> Result<&'a str, TokenError> {
    std::str::from_utf8(bytes).map_err(|e| {
        TokenError::format(name, format!("not UTF-8: invalid byte at offset {}", at + e.valid_up_to() as u64))
    })
}

/// Where a piece of UTF-8 text that starts with `bytes` may end: before the last
/// character that starts in the last four bytes (it may go on past them).
fn utf8_piece_end(bytes: &[u8]) -> usize {
    let from = bytes.len().saturating_sub(4);
    (from..bytes.len()).rev().find(|&i| bytes[i] & 0xC0 != 0x80).filter(|&i| i > 0).unwrap_or(bytes.len())
}

/// The characters of the text file at `path`, read in pieces of 16 MB (a file of any
/// size takes bounded memory), or why it is not UTF-8 text.
fn chars_of(path: &std::path::Path) -> Result<BTreeSet<char>, TokenError> {
    use std::io::Read;
    const PIECE: usize = 16 << 20;
    let mut file = std::fs::File::open(path).map_err(|e| TokenError::io(path, e))?;
    let (mut chars, mut buf, mut at) = (BTreeSet::new(), Vec::with_capacity(PIECE), 0u64);
    loop {
        let have = buf.len();
        // The carry of the last piece is at most 3 bytes: there is room to read.
        let n = file.by_ref().take((PIECE - have) as u64).read_to_end(&mut buf);
        let n = n.map_err(|e| TokenError::io(path, e))?;
        let end = if n == 0 { buf.len() } else { utf8_piece_end(&buf) };
        chars.extend(utf8(&buf[..end], &path.display().to_string(), at)?.chars());
        if n == 0 {
            return Ok(chars);
        }
        at += end as u64;
        buf.drain(..end);
    }
}

/// How text is split into tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// One token per byte: a fixed vocabulary of 256.
    Byte,
    /// One token per Unicode character, vocabulary learned from the corpus.
    #[default]
    Char,
}

/// `[tokenizer] kind = "text"` in a config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// `"char"` (default) or `"byte"`.
    #[serde(default)]
    pub level: Level,
}

impl ModalityBuilder for TextConfig {
    type Modality = TextTokenizer;

    fn extensions(&self) -> Vec<String> {
        vec!["txt".into()]
    }

    fn build(&self, files: &[PathBuf]) -> Result<TextTokenizer, TokenError> {
        match self.level {
            Level::Byte => Ok(TextTokenizer::byte()),
            Level::Char => {
                let mut chars = BTreeSet::new();
                let mut first_error = None;
                for file in files {
                    match chars_of(file) {
                        Ok(found) => chars.extend(found),
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                if chars.is_empty() {
                    let why = first_error.map(|e| format!(" ({e})")).unwrap_or_default();
                    return Err(TokenError::Fit {
                        kind: "text",
                        reason: format!("no readable UTF-8 text in the data files{why}"),
                    });
                }
                TextTokenizer::char(chars.into_iter().collect())
            }
        }
    }
}

/// A fitted text tokenizer, saved in `tokenizer.json` as
/// `{"kind": "text", "level": "char", "chars": "\n !..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TextTokenizerRepr", into = "TextTokenizerRepr")]
pub struct TextTokenizer {
    level: Level,
    /// Character-level vocabulary, sorted and unique; token `i` is `chars[i]`.
    chars: Vec<char>,
}

/// The saved form of [`TextTokenizer`], validated on load.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextTokenizerRepr {
    level: Level,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    chars: String,
}

impl TryFrom<TextTokenizerRepr> for TextTokenizer {
    type Error = String;

    fn try_from(repr: TextTokenizerRepr) -> Result<Self, String> {
        match repr.level {
            Level::Byte if repr.chars.is_empty() => Ok(Self::byte()),
            Level::Byte => Err("a byte-level text tokenizer has no `chars`".into()),
            Level::Char => Self::char(repr.chars.chars().collect()).map_err(|e| e.to_string()),
        }
    }
}

impl From<TextTokenizer> for TextTokenizerRepr {
    fn from(t: TextTokenizer) -> Self {
        Self { level: t.level, chars: t.chars.into_iter().collect() }
    }
}

impl TextTokenizer {
    /// The byte-level tokenizer: token `b` is byte `b`, specials from 256.
    pub fn byte() -> Self {
        Self { level: Level::Byte, chars: Vec::new() }
    }

    /// A character-level tokenizer over `chars`, which must be sorted and unique.
    pub fn char(chars: Vec<char>) -> Result<Self, TokenError> {
        if chars.is_empty() || !chars.windows(2).all(|w| w[0] < w[1]) {
            return Err(TokenError::Fit {
                kind: "text",
                reason: "the character vocabulary must be non-empty, sorted and unique".into(),
            });
        }
        Ok(Self { level: Level::Char, chars })
    }

    /// The level of this tokenizer.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Number of ordinary (non-special) tokens.
    fn num_symbols(&self) -> u32 {
        match self.level {
            Level::Byte => 256,
            Level::Char => self.chars.len() as u32,
        }
    }

    /// Ordinary tokens of `text`, without BOS and EOS.
    pub fn encode_str(&self, text: &str, name: &str) -> Result<Vec<u32>, TokenError> {
        self.encode_text(text, name, 0)
    }

    /// [`TextTokenizer::encode_str`] of text found at byte `at` of its file.
    fn encode_text(&self, text: &str, name: &str, at: u64) -> Result<Vec<u32>, TokenError> {
        match self.level {
            Level::Byte => Ok(text.bytes().map(u32::from).collect()),
            Level::Char => text
                .char_indices()
                .map(|(offset, c)| {
                    self.chars.binary_search(&c).map(|i| i as u32).map_err(|_| {
                        TokenError::format(
                            name,
                            format!(
                                "character {c:?} (U+{:04X}) at byte {} is not in the vocabulary",
                                c as u32,
                                at + offset as u64
                            ),
                        )
                    })
                })
                .collect(),
        }
    }
}

impl Modality for TextTokenizer {
    fn kind(&self) -> &'static str {
        "text"
    }

    fn vocab_size(&self) -> usize {
        Specials::vocab_after(self.num_symbols() as usize)
    }

    fn specials(&self) -> Specials {
        Specials::after(self.num_symbols())
    }

    fn token_name(&self, token: u32) -> Option<String> {
        if let Some(name) = self.specials().name(token) {
            return Some(name.to_owned());
        }
        match self.level {
            Level::Byte if token < 256 => {
                let b = token as u8;
                Some(if b.is_ascii_graphic() || b == b' ' { format!("{:?}", b as char) } else { format!("0x{b:02x}") })
            }
            Level::Char => self.chars.get(token as usize).map(|c| format!("{c:?}")),
            Level::Byte => None,
        }
    }

    /// Byte-level text merges inside GPT-2's words by default; characters merge freely.
    fn reads_text(&self) -> bool {
        true
    }

    fn merge_rule(&self) -> MergeRule {
        let bytes = self.level == Level::Byte;
        MergeRule { symbols: self.num_symbols(), bytes, default_split: if bytes { Split::Words } else { Split::None } }
    }

    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        Ok(vec![self.encode_piece(source, 0, true)?])
    }

    /// Text has no grammar: nothing is ever repaired.
    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        let specials = self.specials();
        let symbols = ids.iter().take_while(|&&t| t != specials.eos).filter(|&&t| t < self.num_symbols());
        let bytes = match self.level {
            Level::Byte => symbols.map(|&t| t as u8).collect(),
            Level::Char => symbols.map(|&t| self.chars[t as usize]).collect::<String>().into_bytes(),
        };
        Ok(Decoded { bytes, extension: "txt".into(), repairs: 0, printable: true })
    }

    fn extras(&self) -> Extras<'_> {
        match self.level {
            Level::Char => {
                Extras { characters: Some(self), pieces: Some(self), spans: Some(self), ..Extras::default() }
            }
            Level::Byte => Extras { pieces: Some(self), spans: Some(self), ..Extras::default() },
        }
    }
}

/// Fill in the middle cuts text on lines.
impl Spans for TextTokenizer {
    fn unit(&self) -> &'static str {
        "line"
    }

    fn boundaries(&self, ids: &[u32]) -> Vec<RangeInclusive<usize>> {
        let Specials { bos, eos, .. } = self.specials();
        let head = (ids.first() == Some(&bos)).then_some(1);
        line_boundaries(ids, head, eos, |t| match self.level {
            Level::Byte if t < 256 => Glyph::of(char::from(t as u8)),
            Level::Char => self.chars.get(t as usize).map_or(Glyph::Other, |&c| Glyph::of(c)),
            Level::Byte => Glyph::Other,
        })
    }
}

impl Pieces for TextTokenizer {
    fn piece_end(&self, bytes: &[u8]) -> usize {
        match self.level {
            Level::Byte => bytes.len(),
            Level::Char => utf8_piece_end(bytes),
        }
    }

    fn encode_piece(&self, source: &Source, offset: u64, last: bool) -> Result<Vec<u32>, TokenError> {
        let name = source.name();
        let Specials { bos, eos, .. } = self.specials();
        let mut doc = Vec::with_capacity(source.bytes.len() + 2);
        if offset == 0 {
            doc.push(bos);
        }
        match self.level {
            Level::Byte => doc.extend(source.bytes.iter().map(|&b| u32::from(b))),
            Level::Char => doc.extend(self.encode_text(utf8(source.bytes, &name, offset)?, &name, offset)?),
        }
        if last {
            doc.push(eos);
        }
        Ok(doc)
    }
}

impl Characters for TextTokenizer {
    fn chars(&self) -> &[char] {
        &self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoreg_tokens::{Identity, Pipeline};
    use std::path::Path;

    fn enc(tok: &TextTokenizer, bytes: &[u8], name: &str) -> Result<Vec<Vec<u32>>, TokenError> {
        tok.encode(&Source::new(Path::new(name), bytes))
    }

    fn dec(tok: &TextTokenizer, ids: &[u32]) -> Vec<u8> {
        tok.decode(ids).unwrap().bytes
    }

    fn fit(texts: &[&str]) -> TextTokenizer {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = dir.path().join(format!("{i}.txt"));
                std::fs::write(&p, t).unwrap();
                p
            })
            .collect();
        TextConfig { level: Level::Char }.build(&files).unwrap()
    }

    #[test]
    fn char_level_round_trips_multibyte_text() {
        let text = "Grüße, 世界! 🎵\nline two";
        let tok = fit(&[text]);
        let docs = enc(&tok, text.as_bytes(), "t").unwrap();
        assert_eq!(docs.len(), 1);
        // One token per character, never per byte, plus BOS and EOS.
        assert_eq!(docs[0].len(), text.chars().count() + 2);
        assert_eq!(docs[0][0], tok.specials().bos);
        assert_eq!(*docs[0].last().unwrap(), tok.specials().eos);
        assert_eq!(dec(&tok, &docs[0]), text.as_bytes());
    }

    #[test]
    fn char_vocabulary_is_the_sorted_set_of_characters() {
        let tok = fit(&["bca", "ab"]);
        assert_eq!(tok.vocab_size(), 3 + 3);
        assert_eq!(tok.encode_str("abc", "t").unwrap(), vec![0, 1, 2]);
        assert_eq!(tok.token_name(0).as_deref(), Some("'a'"));
        assert_eq!(tok.token_name(4).as_deref(), Some("<eos>"));
        assert_eq!(tok.token_name(6), None);
    }

    #[test]
    fn char_level_rejects_non_utf8_with_the_offset() {
        let tok = fit(&["abc"]);
        let err = enc(&tok, b"ab\xffc", "bad.txt").unwrap_err().to_string();
        assert_eq!(err, "bad.txt: not UTF-8: invalid byte at offset 2");
    }

    #[test]
    fn fitting_reads_a_large_file_in_pieces_and_skips_it_whole_when_it_is_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.txt");
        // Past one piece of 16 MB, with characters of 1 to 4 bytes across its end.
        let mut text = "é€😀\n".repeat((16 << 20) / 10 + 3);
        text.push('Z');
        std::fs::write(&big, &text).unwrap();
        let tok = TextConfig { level: Level::Char }.build(std::slice::from_ref(&big)).unwrap();
        assert_eq!(tok.chars(), ['\n', 'Z', 'é', '€', '😀']);
        let mut bytes = text.into_bytes();
        let at = bytes.len() - 1;
        bytes[at] = 0xff;
        std::fs::write(&big, &bytes).unwrap();
        let small = dir.path().join("small.txt");
        std::fs::write(&small, "ab").unwrap();
        let tok = TextConfig { level: Level::Char }.build(&[big.clone(), small]).unwrap();
        assert_eq!(tok.chars(), ['a', 'b'], "a file that is not UTF-8 gives no characters");
        let err = TextConfig { level: Level::Char }.build(&[big]).unwrap_err().to_string();
        assert!(err.contains(&format!("invalid byte at offset {at}")), "{err}");
    }

    #[test]
    fn char_level_rejects_unknown_characters() {
        let tok = fit(&["abc"]);
        let err = enc(&tok, "abz".as_bytes(), "p.txt").unwrap_err().to_string();
        assert!(err.contains("'z' (U+007A) at byte 2"), "{err}");
    }

    #[test]
    fn byte_level_round_trips_any_bytes() {
        let tok = TextConfig { level: Level::Byte }.build(&[]).unwrap();
        assert_eq!(tok.vocab_size(), 259);
        let bytes: Vec<u8> = (0..=255).chain([0xff, 0xfe, b'a']).collect();
        let docs = enc(&tok, &bytes, "b").unwrap();
        assert_eq!(docs[0].len(), bytes.len() + 2);
        assert_eq!(dec(&tok, &docs[0]), bytes);
        // Invalid UTF-8 decodes to the same bytes; showing it is lossy, not a panic.
        let shown = String::from_utf8_lossy(&dec(&tok, &[0xff, b'a' as u32])).into_owned();
        assert_eq!(shown, "\u{fffd}a");
        assert_eq!(tok.token_name(0xff).as_deref(), Some("0xff"));
        assert_eq!(tok.token_name(b'a' as u32).as_deref(), Some("'a'"));
    }

    #[test]
    fn decode_stops_at_eos_and_drops_out_of_range_ids() {
        let tok = fit(&["ab"]);
        let s = tok.specials();
        assert_eq!(dec(&tok, &[s.bos, 0, 1, s.eos, 0]), b"ab");
        // Ids outside the vocabulary are dropped by the pipeline, and counted.
        let identity = Identity { vocab_size: tok.vocab_size() };
        let pipeline = Pipeline::new(&tok, &identity);
        let decoded = pipeline.decode(&[0, 99, 1]).unwrap();
        assert_eq!((decoded.bytes.as_slice(), decoded.repairs), (&b"ab"[..], 1));
        assert_eq!(
            pipeline.check_range(&[0, 99]).unwrap_err().to_string(),
            "token 99 at position 1 is outside the vocabulary of 5"
        );
    }

    #[test]
    fn saved_form_round_trips_and_is_validated() {
        let tok = fit(&["hello\n"]);
        let json = serde_json::to_string(&tok).unwrap();
        assert_eq!(json, r#"{"level":"char","chars":"\nehlo"}"#);
        let back: TextTokenizer = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tok);
        let unsorted = serde_json::from_str::<TextTokenizer>(r#"{"level":"char","chars":"ba"}"#);
        assert!(unsorted.unwrap_err().to_string().contains("sorted"));
        let byte: TextTokenizer = serde_json::from_str(r#"{"level":"byte"}"#).unwrap();
        assert_eq!(byte, TextTokenizer::byte());
    }

    #[test]
    fn round_trips_tiny_shakespeare() {
        // The real corpus, which the project carries.
        let path = autoreg_data::find_data("tinyshakespeare/input.txt").unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap();
        let tok = TextConfig::default().build(std::slice::from_ref(&path)).unwrap();
        assert_eq!(tok.vocab_size(), 65 + 3);
        let docs = enc(&tok, text.as_bytes(), "input.txt").unwrap();
        assert_eq!(dec(&tok, &docs[0]), text.as_bytes());
        let byte = TextTokenizer::byte();
        assert_eq!(dec(&byte, &enc(&byte, text.as_bytes(), "input.txt").unwrap()[0]), text.as_bytes());
    }
}
