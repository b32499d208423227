//! Source code as a modality: each file is one document of its bytes, so that any file
//! comes back byte for byte, after an optional language token named by its extension
//! (`BOS <py> bytes... EOS`). A BPE stage (`[tokenizer.bpe]`) merges the bytes inside
//! GPT-2's words by default.

use autoreg_tokens::{
    Classes, Decoded, Extras, Glyph, MergeRule, Modality, ModalityBuilder, Pieces, Prompts, Source, Spans, Specials,
    Split, TokenError, Units, line_boundaries,
};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// `[tokenizer] kind = "code"` in a config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeConfig {
    /// Extensions of the files to read, lowercase and without the dot (`["rs", "toml"]`).
    #[serde(default = "default_extensions", deserialize_with = "checked_extensions")]
    pub extensions: Vec<String>,
    /// Whether each document starts with a token of its language (its extension).
    #[serde(default = "default_true")]
    pub language_token: bool,
}

fn default_extensions() -> Vec<String> {
    vec!["py".into()]
}

fn default_true() -> bool {
    true
}

/// Why `extensions` is not a list of distinct, lowercase extensions without the dot.
fn check_extensions(extensions: &[String]) -> Result<(), String> {
    if extensions.is_empty() {
        return Err("`extensions` is empty: name the file extensions to read, e.g. [\"py\"]".into());
    }
    for (i, ext) in extensions.iter().enumerate() {
        let plain = !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain || ext.to_lowercase() != *ext {
            return Err(format!("`extensions` entry {ext:?}: give it lowercase, without the dot (\"py\")"));
        }
        if extensions[..i].contains(ext) {
            return Err(format!("`extensions` lists {ext:?} twice"));
        }
    }
    Ok(())
}

/// `extensions` as a config gives it, checked when the config is read, before any data
/// folder is searched for files of those extensions.
fn checked_extensions<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let extensions = Vec::<String>::deserialize(deserializer)?;
    check_extensions(&extensions).map_err(serde::de::Error::custom)?;
    Ok(extensions)
}

impl Default for CodeConfig {
    fn default() -> Self {
        Self { extensions: default_extensions(), language_token: true }
    }
}

impl ModalityBuilder for CodeConfig {
    type Modality = CodeTokenizer;

    fn extensions(&self) -> Vec<String> {
        self.extensions.clone()
    }

    /// Nothing is learned from the files: the vocabulary is the bytes and the languages.
    fn build(&self, _files: &[PathBuf]) -> Result<CodeTokenizer, TokenError> {
        CodeTokenizer::new(self.clone())
    }
}

/// A code tokenizer, saved as its [`CodeConfig`]: ids 0-255 are bytes, then one
/// language token per extension (when `language_token`), then the specials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CodeConfig", into = "CodeConfig")]
pub struct CodeTokenizer {
    config: CodeConfig,
    /// The class names: the extensions when `language_token`, else none.
    languages: Vec<String>,
}

impl TryFrom<CodeConfig> for CodeTokenizer {
    type Error = TokenError;

    fn try_from(config: CodeConfig) -> Result<Self, TokenError> {
        Self::new(config)
    }
}

impl From<CodeTokenizer> for CodeConfig {
    fn from(t: CodeTokenizer) -> Self {
        t.config
    }
}

impl CodeTokenizer {
    /// The tokenizer of `config`, after checking its extensions.
    pub fn new(config: CodeConfig) -> Result<Self, TokenError> {
        check_extensions(&config.extensions).map_err(|reason| TokenError::Fit { kind: "code", reason })?;
        let languages = if config.language_token { config.extensions.clone() } else { Vec::new() };
        Ok(Self { config, languages })
    }

    /// The id of the language token of extension `ext`, if it has one.
    fn language_id(&self, ext: &str) -> Option<u32> {
        self.languages.iter().position(|l| l == ext).map(|k| 256 + k as u32)
    }
}

impl Modality for CodeTokenizer {
    fn kind(&self) -> &'static str {
        "code"
    }

    fn vocab_size(&self) -> usize {
        Specials::vocab_after(256 + self.languages.len())
    }

    fn specials(&self) -> Specials {
        Specials::after(256 + self.languages.len() as u32)
    }

    fn token_name(&self, id: u32) -> Option<String> {
        if let Some(name) = self.specials().name(id) {
            return Some(name.to_owned());
        }
        match id {
            0..256 => {
                let b = id as u8;
                Some(if b.is_ascii_graphic() || b == b' ' { format!("{:?}", b as char) } else { format!("0x{b:02x}") })
            }
            _ => self.languages.get(id as usize - 256).map(|l| format!("<{l}>")),
        }
    }

    fn reads_text(&self) -> bool {
        true
    }

    fn merge_rule(&self) -> MergeRule {
        MergeRule { symbols: 256, bytes: true, default_split: Split::Words }
    }

    /// `BOS [<lang>] bytes... EOS`. The language is the source's label, else its
    /// extension; a file of another language has no language token.
    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        Ok(vec![self.encode_piece(source, 0, true)?])
    }

    /// The bytes before the first EOS; the extension is the first language token's,
    /// else the first configured one. Language tokens after the first are repairs.
    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        let specials = self.specials();
        let ids: Vec<u32> = ids.iter().copied().take_while(|&t| t != specials.eos).collect();
        let languages: Vec<u32> = ids.iter().copied().filter(|&t| (256..specials.bos).contains(&t)).collect();
        let extension = languages
            .first()
            .and_then(|&t| self.languages.get(t as usize - 256))
            .unwrap_or(&self.config.extensions[0])
            .clone();
        let bytes = ids.iter().filter(|&&t| t < 256).map(|&t| t as u8).collect();
        Ok(Decoded { bytes, extension, repairs: languages.len().saturating_sub(1), printable: true })
    }

    fn extras(&self) -> Extras<'_> {
        Extras {
            classes: Some(self),
            prompts: Some(self),
            units: Some(self),
            pieces: Some(self),
            spans: Some(self),
            ..Extras::default()
        }
    }
}

/// Fill in the middle cuts code on lines.
impl Spans for CodeTokenizer {
    fn unit(&self) -> &'static str {
        "line"
    }

    fn boundaries(&self, ids: &[u32]) -> Vec<RangeInclusive<usize>> {
        let Specials { bos, eos, .. } = self.specials();
        // The text starts after BOS and the language token.
        let head =
            (ids.first() == Some(&bos)).then(|| 1 + ids[1..].iter().take_while(|&&t| t > 255 && t < bos).count());
        line_boundaries(ids, head, eos, |t| if t < 256 { Glyph::of(char::from(t as u8)) } else { Glyph::Other })
    }
}

/// Code is bytes: a piece may end anywhere.
impl Pieces for CodeTokenizer {
    fn piece_end(&self, bytes: &[u8]) -> usize {
        bytes.len()
    }

    fn encode_piece(&self, source: &Source, offset: u64, last: bool) -> Result<Vec<u32>, TokenError> {
        let Specials { bos, eos, .. } = self.specials();
        let mut doc = Vec::with_capacity(source.bytes.len() + 3);
        if offset == 0 {
            let ext = source.path.extension().map(|e| e.to_string_lossy().to_lowercase());
            let language = source.label.map(str::to_owned).or(ext).and_then(|l| self.language_id(&l));
            doc.push(bos);
            doc.extend(language);
        }
        doc.extend(source.bytes.iter().map(|&b| u32::from(b)));
        if last {
            doc.push(eos);
        }
        Ok(doc)
    }
}

impl Classes for CodeTokenizer {
    fn names(&self) -> &[String] {
        &self.languages
    }

    fn ids(&self) -> Range<u32> {
        256..256 + self.languages.len() as u32
    }

    /// A file's language is its extension's.
    fn of_file(&self) -> bool {
        true
    }
}

/// The length of the first `n` lines of `bytes` (each with its newline), or of all of
/// them when they hold fewer: how a prompt of `n` lines is cut.
pub fn first_lines(bytes: &[u8], n: usize) -> usize {
    let newline = bytes.iter().enumerate().filter(|&(_, &b)| b == b'\n').nth(n.saturating_sub(1));
    newline.map_or(bytes.len(), |(i, _)| i + 1)
}

impl Prompts for CodeTokenizer {
    fn unit(&self) -> &'static str {
        "lines"
    }

    /// The file, or its first `length` lines (each with its newline), after its
    /// language token.
    fn prompt(&self, source: &Source, length: Option<f64>) -> Result<Vec<u32>, TokenError> {
        let bytes = match length {
            None => source.bytes,
            Some(n) if n >= 1.0 && n.fract() == 0.0 => &source.bytes[..first_lines(source.bytes, n as usize)],
            Some(n) => {
                return Err(TokenError::format(
                    source.name(),
                    format!("a prompt of {n} lines: give a whole number from 1"),
                ));
            }
        };
        let mut doc = self.encode(&Source { bytes, ..*source })?.remove(0);
        doc.pop(); // EOS
        Ok(doc)
    }
}

impl Units for CodeTokenizer {
    fn unit(&self) -> &'static str {
        "byte"
    }

    fn count(&self, doc: &[u32]) -> usize {
        doc.iter().filter(|&&t| t < 256).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoreg_tokens::testing::Tokenize;

    #[test]
    fn any_bytes_come_back_with_the_language_of_the_extension() {
        let tok = CodeConfig { extensions: vec!["rs".into(), "toml".into()], language_token: true }.build(&[]).unwrap();
        let bytes: Vec<u8> = (0..=255).chain(*b"fn main() {}\n").collect();
        let doc = &tok.encode_bytes(&bytes, "src/x.toml").unwrap()[0];
        assert_eq!(&doc[..2], &[tok.specials().bos, 257], "BOS <toml>");
        assert_eq!(tok.token_name(257).as_deref(), Some("<toml>"));
        let decoded = tok.decode(doc).unwrap();
        assert_eq!((decoded.bytes.as_slice(), decoded.extension.as_str()), (bytes.as_slice(), "toml"));
        // Another language has no language token, and decodes to the first extension.
        let other = &tok.encode_bytes(b"x", "a.js").unwrap()[0];
        assert_eq!(other, &[tok.specials().bos, u32::from(b'x'), tok.specials().eos]);
        assert_eq!(tok.decode(other).unwrap().extension, "rs");
        assert_eq!(tok.classes(), ["rs", "toml"]);
        assert_eq!(tok.prefix_len(doc), 2);
    }

    #[test]
    fn pieces_give_the_ids_of_the_whole_file() {
        let tok = CodeConfig { extensions: vec!["rs".into()], language_token: true }.build(&[]).unwrap();
        let bytes = b"fn main() {\n    println!(\"hi\");\n}\n";
        let path = std::path::Path::new("src/main.rs");
        let whole = tok.encode(&Source::new(path, bytes)).unwrap().remove(0);
        let pieces = tok.extras().pieces.unwrap();
        let cut = pieces.piece_end(&bytes[..13]);
        let mut ids = pieces.encode_piece(&Source::new(path, &bytes[..cut]), 0, false).unwrap();
        ids.extend(pieces.encode_piece(&Source::new(path, &bytes[cut..]), cut as u64, true).unwrap());
        assert_eq!(ids, whole);
        assert_eq!(&ids[..2], &[tok.specials().bos, 256], "BOS <rs>, once");
    }

    #[test]
    fn prompts_keep_the_first_lines() {
        let tok = CodeConfig::default().build(&[]).unwrap();
        let text = b"import os\nx = 1\ny = 2\n";
        let two = tok.prompt_bytes(text, "p.py", Some(2.0)).unwrap();
        assert_eq!(tok.decode(&two).unwrap().bytes, b"import os\nx = 1\n");
        assert_eq!(tok.decode(&tok.prompt_bytes(text, "p.py", Some(9.0)).unwrap()).unwrap().bytes, text);
        let err = tok.prompt_bytes(text, "p.py", Some(0.5)).unwrap_err().to_string();
        assert!(err.contains("p.py: a prompt of 0.5 lines"), "{err}");
    }

    #[test]
    fn bad_extensions_are_refused_naming_the_entry() {
        for (exts, why) in
            [(vec![], "is empty"), (vec![".py".into()], "\".py\""), (vec!["py".into(), "py".into()], "twice")]
        {
            let err = CodeConfig { extensions: exts.clone(), language_token: true }.build(&[]).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
            // A config that gives them is refused as it is read, naming the key.
            let text = format!("extensions = {exts:?}");
            let err = toml::from_str::<CodeConfig>(&text).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("`extensions`"), "{text}: {err}");
        }
    }
}
