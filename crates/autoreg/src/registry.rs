//! The modalities autoreg knows. Adding one is one line in [`modalities!`]'s call below.

use autoreg_audio::{AudioConfig, AudioTokenizer};
use autoreg_midi::{MidiConfig, MidiTokenizer};
use autoreg_pixels::{PixelsConfig, PixelsTokenizer};
use autoreg_text::{TextConfig, TextTokenizer};
use autoreg_tokens::{TokenError, Tokenizer, TokenizerBuilder};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Declares, from one line per modality (`Variant => "kind", Config, Tokenizer;`), the
/// tagged `[tokenizer]` config enum, the tagged saved-tokenizer enum, and their dispatch.
macro_rules! modalities {
    ($($variant:ident => $kind:literal, $config:ty, $tokenizer:ty;)+) => {
        /// `[tokenizer]`: the modality (`kind`) and its options.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum TokenizerConfig {
            $(#[doc = concat!("`kind = \"", $kind, "\"`")] #[serde(rename = $kind)] $variant($config),)+
        }

        /// A fitted tokenizer of any modality, as saved in a run's `tokenizer.json`.
        // One lives per run; boxing the larger variants would buy nothing.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum SavedTokenizer {
            $(#[doc = concat!("`\"kind\": \"", $kind, "\"`")] #[serde(rename = $kind)] $variant($tokenizer),)+
        }

        impl TokenizerConfig {
            /// Extensions of the files this modality reads from a data folder.
            pub fn extensions(&self) -> &'static [&'static str] {
                match self { $(Self::$variant(c) => c.extensions(),)+ }
            }

            /// Reads the options of modality `kind` alone from TOML `text` (a
            /// `[tokenizer]` section's body without its `kind`), so that an error
            /// points at the key's line: through the tagged enum it would point at the
            /// section. `None` for an unknown kind.
            pub fn check_options(kind: &str, text: &str) -> Option<Result<(), toml::de::Error>> {
                match kind { $($kind => Some(toml::from_str::<$config>(text).map(|_| ())),)+ _ => None }
            }

            /// Builds the tokenizer, fitting it on `files` where it learns from data.
            pub fn build(&self, files: &[PathBuf]) -> Result<SavedTokenizer, TokenError> {
                match self { $(Self::$variant(c) => c.build(files).map(SavedTokenizer::$variant),)+ }
            }
        }

        impl SavedTokenizer {
            /// The tokenizer behind the trait.
            pub fn as_dyn(&self) -> &dyn Tokenizer {
                match self { $(Self::$variant(t) => t,)+ }
            }
        }
    };
}

modalities! {
    Text => "text", TextConfig, TextTokenizer;
    Midi => "midi", MidiConfig, MidiTokenizer;
    Pixels => "pixels", PixelsConfig, PixelsTokenizer;
    Audio => "audio", AudioConfig, AudioTokenizer;
}

impl SavedTokenizer {
    /// The tokenizer as JSON (what `tokenizer.json` holds).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Loads `tokenizer.json`.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        let bytes = std::fs::read(path).map_err(|e| TokenError::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| TokenError::Json { path: path.to_owned(), source })
    }

    /// Saves `tokenizer.json` atomically.
    pub fn save(&self, path: &Path) -> Result<(), TokenError> {
        autoreg_tokens::write_atomic(path, self.to_json().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_tokenizer_round_trips_through_one_tagged_json_file() {
        let dir = tempfile::tempdir().unwrap();
        let config: TokenizerConfig = toml::from_str("kind = \"text\"\nlevel = \"byte\"").unwrap();
        let tok = config.build(&[]).unwrap();
        let path = dir.path().join("tokenizer.json");
        tok.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"kind\": \"text\"") && text.contains("\"level\": \"byte\""), "{text}");
        let back = SavedTokenizer::load(&path).unwrap();
        assert_eq!(back.as_dyn().vocab_size(), 259);
        assert_eq!(back.to_json(), tok.to_json());
    }

    #[test]
    fn unknown_kind_and_bad_json_are_named() {
        let err = toml::from_str::<TokenizerConfig>("kind = \"smell\"").unwrap_err().to_string();
        assert!(err.contains("smell") && err.contains("text"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, "{\"kind\": \"text\", \"level\": 3}").unwrap();
        let err = SavedTokenizer::load(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }
}
