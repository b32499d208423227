//! The modalities autoreg knows, and the saved tokenizer: a modality, then its learned
//! stages (an optional codec, then optional BPE); or a mixture of several such
//! tokenizers. Adding a modality is one line in [`modalities!`]'s call below.

use autoreg_audio::{AudioConfig, AudioTokenizer};
use autoreg_bpe::{Bpe, BpeConfig};
use autoreg_code::{CodeConfig, CodeTokenizer};
use autoreg_codec::{Codec, CodecConfig, Coded, Training};
use autoreg_data::Progress;
use autoreg_midi::{MidiConfig, MidiTokenizer};
use autoreg_pixels::{PixelsConfig, PixelsTokenizer};
use autoreg_text::{Level, TextConfig, TextTokenizer};
use autoreg_tokens::{
    Decoded, Extras, IdModel, Identity, MergeRule, Mixture, Modality, ModalityBuilder, Parts, Pipeline, Sentinels,
    Source, Specials, Stages, TokenError,
};
use autoreg_video::{VideoConfig, VideoTokenizer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Declares, from one line per modality (`Variant => "kind", Config, Tokenizer;`), the
/// tagged `[tokenizer]` config enum, the tagged saved-modality enum, and their dispatch.
macro_rules! modalities {
    ($($variant:ident => $kind:literal, $config:ty, $tokenizer:ty;)+) => {
        /// `[tokenizer]` without `bpe`: the modality (`kind`) and its options.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum ModalityConfig {
            $(#[doc = concat!("`kind = \"", $kind, "\"`")] #[serde(rename = $kind)] $variant($config),)+
        }

        /// A fitted modality, as saved in a run's `tokenizer.json`.
        // One lives per run; boxing the larger variants would buy nothing.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum SavedModality {
            $(#[doc = concat!("`\"kind\": \"", $kind, "\"`")] #[serde(rename = $kind)] $variant($tokenizer),)+
            /// `"kind": "mixed"`: several tokenizers in one vocabulary.
            #[serde(rename = "mixed")]
            Mixed(Mixed),
        }

        impl ModalityConfig {
            /// The modality, as `kind` names it.
            pub fn kind(&self) -> &'static str {
                match self { $(Self::$variant(_) => $kind,)+ }
            }

            /// Extensions of the files this modality reads from a data folder.
            pub fn extensions(&self) -> Vec<String> {
                match self { $(Self::$variant(c) => c.extensions(),)+ }
            }

            /// Reads the options of modality `kind` alone from TOML `text` (a
            /// `[tokenizer]` section's body without its `kind`), so that an error
            /// points at the key's line: through the tagged enum it would point at the
            /// section. `None` for an unknown kind.
            pub fn check_options(kind: &str, text: &str) -> Option<Result<(), toml::de::Error>> {
                match kind { $($kind => Some(toml::from_str::<$config>(text).map(|_| ())),)+ _ => None }
            }

            /// Builds the modality, fitting it on `files` where it learns from data.
            pub fn build(&self, files: &[PathBuf]) -> Result<SavedModality, TokenError> {
                match self { $(Self::$variant(c) => c.build(files).map(SavedModality::$variant),)+ }
            }
        }

        impl SavedModality {
            /// The modality behind the trait.
            pub fn as_dyn(&self) -> &dyn Modality {
                match self { $(Self::$variant(t) => t,)+ Self::Mixed(m) => &m.0 }
            }
        }
    };
}

/// A saved modality is the modality it holds, so that a codec can wrap it.
impl Modality for SavedModality {
    fn kind(&self) -> &'static str {
        self.as_dyn().kind()
    }

    fn vocab_size(&self) -> usize {
        self.as_dyn().vocab_size()
    }

    fn specials(&self) -> Specials {
        self.as_dyn().specials()
    }

    fn token_name(&self, id: u32) -> Option<String> {
        self.as_dyn().token_name(id)
    }

    fn merge_rule(&self) -> MergeRule {
        self.as_dyn().merge_rule()
    }

    fn reads_text(&self) -> bool {
        self.as_dyn().reads_text()
    }

    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        self.as_dyn().encode(source)
    }

    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        self.as_dyn().decode(ids)
    }

    fn extras(&self) -> Extras<'_> {
        self.as_dyn().extras()
    }
}

modalities! {
    Text => "text", TextConfig, TextTokenizer;
    Code => "code", CodeConfig, CodeTokenizer;
    Midi => "midi", MidiConfig, MidiTokenizer;
    Pixels => "pixels", PixelsConfig, PixelsTokenizer;
    Audio => "audio", AudioConfig, AudioTokenizer;
    Video => "video", VideoConfig, VideoTokenizer;
}

/// The tokenizer that a mixture adds to write captions in when none of its sources is
/// of the captions' kind: text, byte by byte, so that any caption can be written.
pub fn captions_tokenizer() -> TokenizerConfig {
    TokenizerConfig { modality: ModalityConfig::Text(TextConfig { level: Level::Byte }), codec: None, bpe: None }
}

/// A mixture of saved tokenizers, one per kind, as `tokenizer.json` holds it:
/// `{"kind": "mixed", "parts": [{"base": ..., "extensions": [...]}, ...], "captions": 0}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "SavedMixture", into = "SavedMixture")]
pub struct Mixed(pub Mixture<SavedTokenizer>);

/// The saved form of [`Mixed`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedMixture {
    parts: Vec<SavedPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    captions: Option<usize>,
}

/// One part of a [`SavedMixture`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedPart {
    base: SavedModality,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    codec: Option<Codec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bpe: Option<Bpe>,
    extensions: Vec<String>,
}

impl Mixed {
    /// The mixture of `parts` (each a tokenizer and the extensions of the files it
    /// reads), with captions written in part `captions`.
    pub fn new(parts: Vec<(SavedTokenizer, Vec<String>)>, captions: Option<usize>) -> Result<Self, String> {
        if parts.iter().any(|(t, _)| matches!(t.base, SavedModality::Mixed(_))) {
            return Err("a mixture cannot hold another mixture".into());
        }
        let (tokenizers, extensions) = parts.into_iter().unzip();
        Mixture::new(tokenizers, extensions, captions).map(Self)
    }
}

impl TryFrom<SavedMixture> for Mixed {
    type Error = String;

    fn try_from(saved: SavedMixture) -> Result<Self, String> {
        let parts = saved
            .parts
            .into_iter()
            .map(|p| Ok((SavedTokenizer::staged(p.base, p.codec, p.bpe)?, p.extensions)))
            .collect::<Result<Vec<_>, String>>()?;
        Self::new(parts, saved.captions)
    }
}

impl From<Mixed> for SavedMixture {
    fn from(mixed: Mixed) -> Self {
        let mixture = &mixed.0;
        let parts = mixture
            .parts()
            .iter()
            .zip(mixture.extensions())
            .map(|(t, e)| SavedPart {
                base: t.base.clone(),
                codec: t.codec().cloned(),
                bpe: t.bpe.clone(),
                extensions: e.clone(),
            })
            .collect();
        Self { parts, captions: mixture.captions() }
    }
}

/// `[tokenizer]`: the modality and its options (`kind = ...`), `[tokenizer.codec]` and
/// `[tokenizer.bpe]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenizerConfig {
    /// The modality.
    #[serde(flatten)]
    pub modality: ModalityConfig,
    /// A learned codec over the modality's signal, trained on the training split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<CodecConfig>,
    /// Subword merges after the modality's base ids, learned on the training split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpe: Option<BpeConfig>,
}

impl TokenizerConfig {
    /// Extensions of the files this tokenizer reads from a data folder.
    pub fn extensions(&self) -> Vec<String> {
        self.modality.extensions()
    }

    /// Whether it asks for learned stages after the modality.
    pub fn learns(&self) -> bool {
        self.bpe.is_some() || self.codec.is_some()
    }

    /// The modality fitted on `files`, without its learned stages, which are checked
    /// against it before any data is read.
    pub fn fit(&self, files: &[PathBuf]) -> Result<SavedTokenizer, TokenError> {
        let base = self.modality.build(files)?;
        let kind = self.modality.kind();
        match (&self.codec, &self.bpe) {
            (Some(codec), _) => {
                let fit = |reason: String| TokenError::Fit { kind, reason: format!("[tokenizer.codec]: {reason}") };
                codec.validate().map_err(fit)?;
                let Some(signal) = base.extras().signal else {
                    return Err(fit(format!("a {kind} tokenizer carries no signal for a codec to encode")));
                };
                // The keys of the signal's shape (an image codec has no `hop`), before any data is read.
                if codec.from.is_none() {
                    codec.for_shape(signal.shape()).map_err(fit)?;
                }
            }
            (None, Some(bpe)) => bpe.check(base.as_dyn())?,
            (None, None) => {}
        }
        SavedTokenizer::new(base, None).map_err(|reason| TokenError::Fit { kind, reason })
    }

    /// `fitted` (what [`TokenizerConfig::fit`] made) with the learned stages this config
    /// asks for, fitted on `docs`: the training documents in `fitted`'s ids. A codec
    /// trains first (showing `progress`, with its checkpoint in `checkpoints`), then
    /// merges learn over its codes.
    pub fn learn(
        &self,
        fitted: &SavedTokenizer,
        docs: &[&[u32]],
        progress: &dyn Progress,
        checkpoints: Option<&Path>,
    ) -> Result<SavedTokenizer, TokenError> {
        let kind = self.modality.kind();
        let codec = match &self.codec {
            Some(config) => Some(learn_codec(config, &fitted.base, docs, progress, checkpoints)?),
            None => None,
        };
        let coded = SavedTokenizer::staged(fitted.base.clone(), codec.clone(), None)
            .map_err(|reason| TokenError::Fit { kind, reason })?;
        let bpe = match &self.bpe {
            Some(config) => {
                let modality = coded.pipeline().base;
                config.check(modality)?;
                let docs = docs.iter().map(|d| coded.stage_ids(d)).collect::<Result<Vec<_>, _>>()?;
                Some(Bpe::learn(config, modality, docs.iter().map(Vec::as_slice))?)
            }
            None => None,
        };
        SavedTokenizer::staged(fitted.base.clone(), codec, bpe)
            .map_err(|reason| TokenError::Fit { kind: "bpe", reason })
    }
}

/// The codec of `config` for `base`: the one `from` names, or one trained on the runs
/// of values in `docs`.
fn learn_codec(
    config: &CodecConfig,
    base: &SavedModality,
    docs: &[&[u32]],
    progress: &dyn Progress,
    checkpoints: Option<&Path>,
) -> Result<Codec, TokenError> {
    let kind = base.kind();
    let fit = |reason: String| TokenError::Fit { kind, reason: format!("[tokenizer.codec]: {reason}") };
    let signal = base.extras().signal.ok_or_else(|| fit(format!("a {kind} tokenizer carries no signal")))?;
    if let Some(from) = &config.from {
        return reused_codec(from, kind);
    }
    let values = signal.symbols();
    let mut signals = Vec::new();
    for doc in docs {
        let mut rest = *doc;
        while let Some(start) = rest.iter().position(|&id| id < values) {
            let len = rest[start..].iter().take_while(|&&id| id < values).count();
            signals.push(signal.values(&rest[start..start + len]));
            rest = &rest[start + len..];
        }
    }
    let file = format!("codec-{kind}.safetensors");
    let training = Training { progress, checkpoints };
    autoreg_codec::train(config, signal.shape(), &signals, file, training).map_err(|e| fit(e.to_string()))
}

/// The codec for `kind` in the tokenizer of the run at `from` (a run directory or its
/// `tokenizer.json`).
fn reused_codec(from: &Path, kind: &'static str) -> Result<Codec, TokenError> {
    let path = if from.is_dir() { from.join("tokenizer.json") } else { from.to_path_buf() };
    let tokenizer = SavedTokenizer::load(&path)?;
    let parts = match tokenizer.mixture() {
        Some(mixture) => mixture.parts().iter().collect(),
        None => vec![&tokenizer],
    };
    let found = parts.into_iter().find(|t| t.base.kind() == kind).and_then(SavedTokenizer::codec);
    found.cloned().ok_or_else(|| {
        TokenError::format(
            path.display().to_string(),
            format!("`[tokenizer.codec] from`: this tokenizer has no {kind} codec"),
        )
    })
}

/// The format of `tokenizer.json` this program writes. Format 1 (no `format` key) was
/// the modality alone; format 2 had no codecs. Both still load.
pub const TOKENIZER_FORMAT: u32 = 3;

/// The oldest format with a `format` key.
const FORMATS_FROM: u64 = 2;

/// A fitted tokenizer of any modality, as saved in a run's `tokenizer.json`:
/// `{"format": 3, "base": {"kind": ...}, "codec": {...}, "bpe": {...}}`, a codec's
/// weights in a file beside it.
#[derive(Clone, Debug)]
pub struct SavedTokenizer {
    /// The modality.
    pub base: SavedModality,
    /// The modality through its codec, if it has one.
    coded: Option<Coded<SavedModality>>,
    /// The BPE stage, if any.
    pub bpe: Option<Bpe>,
    /// The id model of a tokenizer without BPE.
    identity: Identity,
    /// Whether the sentinels of fill in the middle follow its ids.
    fim: bool,
}

/// The saved form of [`SavedTokenizer`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    format: u32,
    base: SavedModality,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    codec: Option<Codec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bpe: Option<Bpe>,
    /// The sentinels' ids, written out so that other tools need not work them out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fim: Option<Sentinels>,
}

impl SavedTokenizer {
    /// The tokenizer of `base`, then `bpe`, after checking that `bpe` was learned over `base`.
    pub fn new(base: SavedModality, bpe: Option<Bpe>) -> Result<Self, String> {
        Self::staged(base, None, bpe)
    }

    /// The tokenizer of `base`, then `codec`, then `bpe`, after checking that each
    /// stage fits the one before.
    pub fn staged(base: SavedModality, codec: Option<Codec>, bpe: Option<Bpe>) -> Result<Self, String> {
        if (bpe.is_some() || codec.is_some()) && matches!(base, SavedModality::Mixed(_)) {
            return Err("a mixture has no learned stages of its own: its parts have theirs".into());
        }
        let coded = codec.map(|c| Coded::new(base.clone(), c)).transpose().map_err(|e| e.to_string())?;
        let modality: &dyn Modality = match &coded {
            Some(coded) => coded,
            None => base.as_dyn(),
        };
        if let Some(bpe) = &bpe {
            bpe.check_base(modality)?;
        }
        let identity = Identity { vocab_size: modality.vocab_size() };
        Ok(Self { base, coded, bpe, identity, fim: false })
    }

    /// This tokenizer with the sentinels of fill in the middle after its ids, when `fim`.
    pub fn with_fim(self, fim: bool) -> Self {
        Self { fim, ..self }
    }

    /// The whole tokenizer, for the shared layers.
    pub fn pipeline(&self) -> Pipeline<'_> {
        let ids: &dyn IdModel = match &self.bpe {
            Some(bpe) => bpe,
            None => &self.identity,
        };
        let base: &dyn Modality = match &self.coded {
            Some(coded) => coded,
            None => self.base.as_dyn(),
        };
        let pipeline = Pipeline::new(base, ids);
        if self.fim { pipeline.with_fim() } else { pipeline }
    }

    /// The codec, if it has one.
    pub fn codec(&self) -> Option<&Codec> {
        self.coded.as_ref().map(Coded::codec)
    }

    /// Its codecs and those of its parts.
    pub fn codecs(&self) -> Vec<&Codec> {
        match self.mixture() {
            Some(mixture) => mixture.parts().iter().flat_map(SavedTokenizer::codecs).collect(),
            None => self.codec().into_iter().collect(),
        }
    }

    /// Whether it has learned stages after its modalities (a codec, merges).
    pub fn has_stages(&self) -> bool {
        match &self.base {
            SavedModality::Mixed(m) => m.0.parts().iter().any(SavedTokenizer::has_stages),
            _ => self.bpe.is_some() || self.coded.is_some(),
        }
    }

    /// This tokenizer before its learned stages: its modality alone, or the mixture of
    /// its parts' modalities. The token cache holds its ids.
    pub fn before_stages(&self) -> Result<Self, String> {
        let base = match &self.base {
            SavedModality::Mixed(m) => {
                let parts = m.0.parts().iter().map(SavedTokenizer::before_stages).collect::<Result<Vec<_>, _>>()?;
                SavedModality::Mixed(Mixed::new(
                    parts.into_iter().zip(m.0.extensions().to_vec()).collect(),
                    m.0.captions(),
                )?)
            }
            base => base.clone(),
        };
        Self::new(base, None)
    }

    /// `doc`, a document in the ids of `base` (this tokenizer's [`before_stages`]), in
    /// this tokenizer's ids.
    ///
    /// [`before_stages`]: SavedTokenizer::before_stages
    pub fn rebase(&self, base: &SavedTokenizer, doc: &[u32]) -> Result<Vec<u32>, TokenError> {
        match (self.mixture(), base.mixture()) {
            (Some(mixture), Some(base)) => mixture.rebase(base, doc),
            _ => self.stage_ids(doc),
        }
    }

    /// The modality as JSON: with the files' contents it keys the token cache.
    pub fn base_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.base)
    }

    /// The tokenizer as JSON (what `tokenizer.json` holds).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let saved = Saved {
            format: TOKENIZER_FORMAT,
            base: self.base.clone(),
            codec: self.codec().cloned(),
            bpe: self.bpe.clone(),
            fim: self.pipeline().fim,
        };
        serde_json::to_string_pretty(&saved)
    }

    /// Loads `tokenizer.json`, of this format or an older one, and reads each codec's
    /// weights from beside it, checked against their checksums.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        let bytes = std::fs::read(path).map_err(|e| TokenError::io(path, e))?;
        let json = |source| TokenError::Json { path: path.to_owned(), source };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(json)?;
        let (base, codec, bpe, fim) = match value.get("format").map(serde_json::Value::as_u64) {
            None if value.get("kind").is_some() => (serde_json::from_value(value).map_err(json)?, None, None, None),
            Some(Some(format)) if (FORMATS_FROM..=u64::from(TOKENIZER_FORMAT)).contains(&format) => {
                let saved: Saved = serde_json::from_value(value).map_err(json)?;
                (saved.base, saved.codec, saved.bpe, saved.fim)
            }
            found => {
                let found = match (found, value.get("format")) {
                    (Some(_), Some(format)) => format!("format {format}"),
                    _ => "no format and no kind".to_owned(),
                };
                return Err(TokenError::format(
                    path.display().to_string(),
                    format!(
                        "{found}: this autoreg reads tokenizer.json formats 1 to {TOKENIZER_FORMAT}; \
                         a newer autoreg wrote it, or it is not a tokenizer"
                    ),
                ));
            }
        };
        let tokenizer = Self::staged(base, codec, bpe)
            .map_err(|reason| TokenError::format(path.display().to_string(), reason))?
            .with_fim(fim.is_some());
        if fim != tokenizer.pipeline().fim {
            let expected = tokenizer.pipeline().fim.map(|s| s.ids());
            return Err(TokenError::format(
                path.display().to_string(),
                format!("`fim`: the sentinels must be the ids after the vocabulary, {expected:?}, not {fim:?}"),
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        for codec in tokenizer.codecs() {
            codec.attach(dir)?;
        }
        Ok(tokenizer)
    }

    /// The mixture, when this tokenizer is one.
    pub fn mixture(&self) -> Option<&Mixture<SavedTokenizer>> {
        match &self.base {
            SavedModality::Mixed(m) => Some(&m.0),
            _ => None,
        }
    }

    /// Saves `tokenizer.json` atomically, after its codecs' weights beside it.
    pub fn save(&self, path: &Path) -> Result<(), TokenError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        for codec in self.codecs() {
            codec.save(dir)?;
        }
        let json = self.to_json().map_err(|source| TokenError::Json { path: path.to_owned(), source })?;
        autoreg_tokens::write_atomic(path, json.as_bytes())
    }
}

impl Stages for SavedTokenizer {
    fn pipeline(&self) -> Pipeline<'_> {
        SavedTokenizer::pipeline(self)
    }

    /// Through the codec, then the merges.
    fn stage_ids(&self, ids: &[u32]) -> Result<Vec<u32>, TokenError> {
        let coded = match &self.coded {
            Some(coded) => coded.encode_ids(ids)?,
            None => ids.to_vec(),
        };
        Ok(match &self.bpe {
            Some(bpe) => bpe.merge(&coded),
            None => coded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_byte() -> SavedTokenizer {
        let config: TokenizerConfig = toml::from_str("kind = \"text\"\nlevel = \"byte\"").unwrap();
        assert_eq!(config.bpe, None);
        SavedTokenizer::new(config.modality.build(&[]).unwrap(), None).unwrap()
    }

    #[test]
    fn saved_tokenizer_round_trips_through_one_json_file_with_its_format() {
        let dir = tempfile::tempdir().unwrap();
        let tok = text_byte();
        let path = dir.path().join("tokenizer.json");
        tok.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"format\": 3") && text.contains("\"kind\": \"text\""), "{text}");
        let back = SavedTokenizer::load(&path).unwrap();
        assert_eq!(back.pipeline().vocab_size(), 259);
        assert_eq!(back.to_json().unwrap(), tok.to_json().unwrap());
    }

    #[test]
    fn format_1_loads_and_other_formats_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        // What autoreg wrote before formats: the modality alone.
        std::fs::write(&path, r#"{"kind": "text", "level": "char", "chars": "ab"}"#).unwrap();
        let old = SavedTokenizer::load(&path).unwrap();
        assert_eq!((old.pipeline().kind(), old.pipeline().vocab_size()), ("text", 5));
        std::fs::write(&path, r#"{"format": 7, "base": {"kind": "text", "level": "byte"}}"#).unwrap();
        let err = SavedTokenizer::load(&path).unwrap_err().to_string();
        assert!(err.contains("format 7") && err.contains("formats 1 to 3"), "{err}");
    }

    #[test]
    fn bpe_options_sit_under_the_tokenizer() {
        let config: TokenizerConfig =
            toml::from_str("kind = \"code\"\nextensions = [\"py\"]\n[bpe]\nvocab_size = 1000\nsplit = \"words\"")
                .unwrap();
        let bpe = config.bpe.clone().unwrap();
        assert_eq!((bpe.vocab_size, bpe.min_frequency, bpe.split), (1000, 2, Some(autoreg_tokens::Split::Words)));
        assert_eq!(config.extensions(), ["py"]);
        let err = toml::from_str::<TokenizerConfig>("kind = \"code\"\n[bpe]\nvocab_size = 9\nmerges = 3").unwrap_err();
        assert!(err.to_string().contains("merges"), "{err}");
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
