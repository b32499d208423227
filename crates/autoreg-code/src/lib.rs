//! Source code as a modality: each file is one document of its bytes, so that any file
//! comes back byte for byte, after an optional language token named by its extension
//! (`BOS <py> bytes... EOS`). A BPE stage (`[tokenizer.bpe]`) merges the bytes inside
//! GPT-2's words by default.

use autoreg_tokens::{
    Classes, Decoded, Extras, MergeRule, Modality, ModalityBuilder, Source, Specials, Split, TokenError, Units,
};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::PathBuf;

/// `[tokenizer] kind = "code"` in a config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeConfig {
    /// Extensions of the files to read, lowercase and without the dot (`["rs", "toml"]`).
    #[serde(default = "default_extensions")]
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
        let fit = |reason: String| TokenError::Fit { kind: "code", reason };
        if config.extensions.is_empty() {
            return Err(fit("`extensions` is empty: name the file extensions to read, e.g. [\"py\"]".into()));
        }
        for (i, ext) in config.extensions.iter().enumerate() {
            let plain = !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !plain || ext.to_lowercase() != *ext {
                return Err(fit(format!("`extensions` entry {ext:?}: give it lowercase, without the dot (\"py\")")));
            }
            if config.extensions[..i].contains(ext) {
                return Err(fit(format!("`extensions` lists {ext:?} twice")));
            }
        }
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
        256 + self.languages.len() + 3
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

    fn merge_rule(&self) -> MergeRule {
        MergeRule { symbols: 256, bytes: true, default_split: Split::Words }
    }

    /// `BOS [<lang>] bytes... EOS`. The language is the source's label, else its
    /// extension; a file of another language has no language token.
    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        let ext = source.path.extension().map(|e| e.to_string_lossy().to_lowercase());
        let language = source.label.map(str::to_owned).or(ext).and_then(|l| self.language_id(&l));
        let Specials { bos, eos, .. } = self.specials();
        let mut doc = Vec::with_capacity(source.bytes.len() + 3);
        doc.push(bos);
        doc.extend(language);
        doc.extend(source.bytes.iter().map(|&b| u32::from(b)));
        doc.push(eos);
        Ok(vec![doc])
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
        Ok(Decoded { bytes, extension, repairs: languages.len().saturating_sub(1), text: true })
    }

    fn extras(&self) -> Extras<'_> {
        Extras { classes: Some(self), units: Some(self), ..Extras::default() }
    }
}

impl Classes for CodeTokenizer {
    fn names(&self) -> &[String] {
        &self.languages
    }

    fn ids(&self) -> Range<u32> {
        256..256 + self.languages.len() as u32
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
