//! Captions, the text that a source of a mixture pairs with each file, and
//! [`Captioned`], which writes a source's files as documents of the mixture.

use crate::{
    Decoded, Extras, Frames, Inputs, LabelPattern, MAX_CAPTION, MergeRule, Modality, Parts, Source, Specials,
    TokenError,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a source's captions come from: `caption = { from = "...", ... }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "lowercase", deny_unknown_fields)]
pub enum Caption {
    /// The document's class (a conditional tokenizer's class token, which the caption
    /// replaces), as `words` spells it, or its name.
    Class {
        /// Class name → caption (`"3" = "three"`); when given, every class needs one.
        #[serde(default)]
        words: BTreeMap<String, String>,
    },
    /// The label that the template `pattern` finds in the file name (see
    /// [`LabelPattern`]), as `words` spells it, or itself.
    Name {
        /// The template, such as `"{label}_{_}.wav"`.
        pattern: String,
        /// Label → caption; when given, every label needs one.
        #[serde(default)]
        words: BTreeMap<String, String>,
    },
    /// The title the file carries, such as a MIDI file's track name.
    Title,
    /// The text of the file of the same stem beside the file, in the captions' part's
    /// own format (`tune.txt` beside `tune.mid` when captions are text), trimmed.
    Sidecar,
}

/// `text` for a message: quoted whole when short, else its start.
fn shown(text: &str) -> String {
    const SHOWN: usize = 40;
    match text.char_indices().nth(SHOWN) {
        None => format!("{text:?}"),
        Some((at, _)) => format!("{:?}...", &text[..at]),
    }
}

/// One source of a mixture as a modality of the mixture's ids: its part encodes a file,
/// and each document is written `BOS <tag_c> caption <tag> ids EOS` with a caption,
/// `BOS <tag> ids EOS` without. The data pipeline reads a source through it.
pub struct Captioned<'a> {
    mixture: &'a dyn Modality,
    parts: &'a dyn Parts,
    part: usize,
    caption: Option<&'a Caption>,
    pattern: Option<LabelPattern>,
    /// The most ids a caption may take (see [`Captioned::limit`]).
    max_ids: usize,
    /// The part's frames in the mixture's ids, when its documents are frames.
    frames: Option<MixedFrames>,
}

/// A part's frames in a mixture's ids: the frame token and the ids per frame.
struct MixedFrames(u32, usize);

impl Frames for MixedFrames {
    fn frame_token(&self) -> u32 {
        self.0
    }

    fn frame_len(&self) -> usize {
        self.1
    }
}

impl<'a> Captioned<'a> {
    /// The most bytes a sidecar caption file may hold; a longer one is refused unread.
    /// Far more than any caption of [`MAX_CAPTION`] ids (a character-level id is at
    /// most 4 bytes), so that what decides is the caption's length in ids.
    pub const MAX_SIDECAR_BYTES: u64 = 1 << 16;

    /// The most ids a caption may take in a model of `block_size` positions: at most
    /// [`MAX_CAPTION`], the most the sampler lets a model write before the document,
    /// and at most half the context, since every window of a captioned document keeps
    /// the caption in front (`windows = "documents"`) and the document needs the rest.
    pub fn limit(block_size: usize) -> usize {
        MAX_CAPTION.min(block_size / 2).max(1)
    }

    /// Source files of part `part` of `mixture`, with `caption` of at most `max_ids`
    /// ids (see [`Captioned::limit`]): a file whose caption is longer is skipped with the
    /// reason. The error says what the caption needs and the part lacks.
    pub fn new(
        mixture: &'a dyn Modality,
        part: usize,
        caption: Option<&'a Caption>,
        max_ids: usize,
    ) -> Result<Self, String> {
        let parts = mixture.extras().parts.ok_or("a source's tokenizer must be a mixture")?;
        let pipeline = parts.part(part);
        if caption.is_some() && parts.captions().is_none() {
            return Err("captions need a part of the mixture to be written in".into());
        }
        let pattern = match caption {
            Some(Caption::Class { .. }) if pipeline.classes().is_empty() => {
                return Err(format!(
                    "caption from = \"class\" needs a conditional {} tokenizer (conditional = true)",
                    pipeline.kind()
                ));
            }
            Some(Caption::Title) if pipeline.base.extras().titles.is_none() => {
                return Err(format!("caption from = \"title\": {} files carry no title", pipeline.kind()));
            }
            Some(Caption::Name { pattern, .. }) => {
                Some(LabelPattern::new(pattern).map_err(|e| format!("caption.pattern: {e}"))?)
            }
            _ => None,
        };
        let frames = parts.frames(part).map(|(token, len)| MixedFrames(token, len));
        Ok(Self { mixture, parts, part, caption, pattern, max_ids, frames })
    }

    /// The sidecar caption file of `path`: the same stem, with the captions' part's
    /// own extension.
    fn sidecar(&self, path: &Path) -> PathBuf {
        let extension = self.parts.captions().and_then(|c| self.parts.extensions(c).first());
        path.with_extension(extension.map_or("", String::as_str))
    }

    /// The caption `label` as `words` spells it.
    fn spelled(words: &BTreeMap<String, String>, label: &str, source: &Source) -> Result<String, TokenError> {
        match words.get(label) {
            Some(word) => Ok(word.clone()),
            None if words.is_empty() => Ok(label.to_owned()),
            None => Err(TokenError::format(source.name(), format!("label {label:?} has no entry in caption.words"))),
        }
    }

    /// The caption of `source` when it does not depend on the document, with where it
    /// comes from, for messages.
    fn file_caption(&self, source: &Source) -> Result<Option<(String, String)>, TokenError> {
        let mut from = String::new();
        let text = match self.caption {
            None | Some(Caption::Class { .. }) => return Ok(None),
            Some(Caption::Name { words, .. }) => {
                let name = source.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                let label = self
                    .pattern
                    .as_ref()
                    .and_then(|p| p.label(&name))
                    .ok_or_else(|| TokenError::format(source.name(), "its name does not match caption.pattern"))?;
                Self::spelled(words, label, source)?
            }
            Some(Caption::Title) => {
                let titles = self.parts.part(self.part).base.extras().titles;
                let title = titles.map(|t| t.title(source)).transpose()?.flatten().unwrap_or_default();
                if title.trim().is_empty() {
                    return Err(TokenError::format(source.name(), "it carries no title to caption it with"));
                }
                title
            }
            Some(Caption::Sidecar) => {
                let path = self.sidecar(source.path);
                from = format!(" from {}", path.display());
                let len = std::fs::metadata(&path).map_err(|e| TokenError::io(&path, e))?.len();
                if len > Self::MAX_SIDECAR_BYTES {
                    return Err(TokenError::format(
                        source.name(),
                        format!(
                            "its caption file {} is {len} bytes, more than the {} a caption file may \
                             hold: a caption takes at most {} ids here (at most {MAX_CAPTION}, and half of \
                             model.block_size)",
                            path.display(),
                            Self::MAX_SIDECAR_BYTES,
                            self.max_ids
                        ),
                    ));
                }
                std::fs::read_to_string(&path).map_err(|e| TokenError::io(&path, e))?
            }
        };
        Ok(Some((text.trim().to_owned(), from)))
    }

    /// `text`, the caption of `source`, in the captions' part, as mixed ids without
    /// tags; refused when longer than `max_ids`. `from` says where it comes from in
    /// messages (`" from x.txt"`), or is empty.
    fn caption_ids(&self, source: &Source, text: &str, from: &str) -> Result<Vec<u32>, TokenError> {
        let Some(c) = self.parts.captions() else { return Ok(Vec::new()) };
        let part = self.parts.part(c);
        let docs = part.encode(&Source::new(source.path, text.as_bytes())).map_err(|e| {
            TokenError::format(source.name(), format!("its caption {}{from} cannot be written: {e}", shown(text)))
        })?;
        let ids = docs.first().map(|doc| self.parts.to_mixed(c, doc)).unwrap_or_default();
        if ids.len() > self.max_ids {
            return Err(TokenError::format(
                source.name(),
                format!(
                    "its caption{from} is {} ids long ({}): a caption takes at most {} ids here (at most \
                     {MAX_CAPTION}, and half of model.block_size)",
                    ids.len(),
                    shown(text),
                    self.max_ids
                ),
            ));
        }
        Ok(ids)
    }
}

impl Modality for Captioned<'_> {
    fn kind(&self) -> &'static str {
        self.mixture.kind()
    }

    fn vocab_size(&self) -> usize {
        self.mixture.vocab_size()
    }

    fn specials(&self) -> Specials {
        self.mixture.specials()
    }

    fn token_name(&self, id: u32) -> Option<String> {
        self.mixture.token_name(id)
    }

    fn merge_rule(&self) -> MergeRule {
        self.mixture.merge_rule()
    }

    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        let part = self.parts.part(self.part);
        let docs = part.encode(source)?;
        let file_caption = match self.file_caption(source)? {
            Some((text, from)) => Some(self.caption_ids(source, &text, &from)?),
            None => None,
        };
        let classes = part.base.extras().classes;
        let mut out = Vec::with_capacity(docs.len());
        for mut doc in docs {
            let caption = match (self.caption, classes) {
                (Some(Caption::Class { words }), Some(classes)) => {
                    // BOS Class_k ...: the class becomes the caption.
                    let k = doc.get(1).filter(|id| classes.ids().contains(id)).map(|id| id - classes.ids().start);
                    let k = k.ok_or_else(|| TokenError::format(source.name(), "a document has no class"))?;
                    doc.remove(1);
                    let text = Self::spelled(words, &classes.names()[k as usize], source)?;
                    Some(self.caption_ids(source, &text, "")?)
                }
                _ => file_caption.clone(),
            };
            out.push(self.parts.document(self.part, &doc, caption.as_deref()));
        }
        Ok(out)
    }

    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        self.mixture.decode(ids)
    }

    fn extras(&self) -> Extras<'_> {
        let frames = self.frames.as_ref().map(|f| f as &dyn Frames);
        Extras { inputs: Some(self), frames, ..Extras::default() }
    }
}

impl Inputs for Captioned<'_> {
    fn companion_inputs(&self, path: &Path) -> Vec<PathBuf> {
        let mut inputs = self.parts.part(self.part).companion_inputs(path);
        if self.caption == Some(&Caption::Sidecar) {
            inputs.push(self.sidecar(path));
        }
        inputs
    }
}
