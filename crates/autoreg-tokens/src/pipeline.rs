//! The last stage, an [`IdModel`] (identity, or subword merges), and the [`Pipeline`]
//! that puts a [`Modality`] and an id model together for the shared layers.

use crate::{Decoded, Modality, Parts, Pieces, Sentinels, Source, Specials, TokenError};
use std::path::{Path, PathBuf};

/// An id → id stage after a modality's base ids: ids `0..base` are the base ids
/// themselves, and any further id stands for a sequence of base ids.
pub trait IdModel: Send + Sync {
    /// Number of ids, base ids included.
    fn vocab_size(&self) -> usize;

    /// Whether this stage maps every id to itself (then it is skipped).
    fn is_identity(&self) -> bool;

    /// The ids of a sequence of base ids.
    fn merge(&self, base: &[u32]) -> Vec<u32>;

    /// Appends the base ids that `id` stands for to `out`; `false` (nothing appended)
    /// when `id` is none of this stage's ids.
    fn expand(&self, id: u32, out: &mut Vec<u32>) -> bool;

    /// A readable name for `id` when it is a merged id, `None` for a base id.
    fn merged_name(&self, id: u32, base: &dyn Modality) -> Option<String> {
        let mut ids = Vec::new();
        if id < base.vocab_size() as u32 || !self.expand(id, &mut ids) {
            return None;
        }
        let names: Vec<String> = ids.iter().map(|&b| base.token_name(b).unwrap_or_else(|| b.to_string())).collect();
        Some(names.join("+"))
    }
}

/// The id model that keeps base ids: what a tokenizer without subwords has.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    /// The number of base ids.
    pub vocab_size: usize,
}

impl IdModel for Identity {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn is_identity(&self) -> bool {
        true
    }

    fn merge(&self, base: &[u32]) -> Vec<u32> {
        base.to_vec()
    }

    fn expand(&self, id: u32, out: &mut Vec<u32>) -> bool {
        let known = (id as usize) < self.vocab_size;
        if known {
            out.push(id);
        }
        known
    }
}

/// A whole tokenizer: a modality's base vocabulary, then an id model. What the data
/// pipeline, the trainer and the sampler use; it names no modality.
///
/// Specials and class tokens are base ids that no id model merges, so they keep their
/// ids whatever the id model. The sentinels of fill in the middle, when it has them,
/// come after every other id.
#[derive(Clone, Copy)]
pub struct Pipeline<'a> {
    /// The modality.
    pub base: &'a dyn Modality,
    /// The id model after it.
    pub ids: &'a dyn IdModel,
    /// The sentinels of fill in the middle, after the id model's ids.
    pub fim: Option<Sentinels>,
}

impl<'a> Pipeline<'a> {
    /// The pipeline of `base`, then `ids`, without sentinels.
    pub fn new(base: &'a dyn Modality, ids: &'a dyn IdModel) -> Self {
        Self { base, ids, fim: None }
    }

    /// This pipeline with the sentinels of fill in the middle after its ids.
    pub fn with_fim(self) -> Self {
        Self { fim: Some(Sentinels::after(self.ids.vocab_size() as u32)), ..self }
    }

    /// The modality, as written in `[tokenizer] kind`.
    pub fn kind(&self) -> &'static str {
        self.base.kind()
    }

    /// Number of ids, specials and sentinels included.
    pub fn vocab_size(&self) -> usize {
        self.ids.vocab_size() + if self.fim.is_some() { Sentinels::COUNT } else { 0 }
    }

    /// The special tokens.
    pub fn specials(&self) -> Specials {
        self.base.specials()
    }

    /// A readable name for `id`: its base name, or a merged id's base names joined
    /// by `+`, or a sentinel's name; `None` if out of range.
    pub fn token_name(&self, id: u32) -> Option<String> {
        let sentinel = || self.fim.and_then(|s| s.name(id)).map(str::to_owned);
        self.base.token_name(id).or_else(|| self.ids.merged_name(id, self.base)).or_else(sentinel)
    }

    /// Encodes one input into documents, each `BOS ... EOS`.
    pub fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        Ok(self.merge_all(self.base.encode(source)?))
    }

    /// Reads and encodes the file at `path`.
    pub fn encode_file(&self, path: &Path) -> Result<Vec<Vec<u32>>, TokenError> {
        let bytes = std::fs::read(path).map_err(|e| TokenError::io(path, e))?;
        self.encode(&Source::new(path, &bytes))
    }

    /// Documents of base ids in this pipeline's ids.
    pub fn merge_all(&self, docs: Vec<Vec<u32>>) -> Vec<Vec<u32>> {
        if self.ids.is_identity() { docs } else { docs.iter().map(|d| self.ids.merge(d)).collect() }
    }

    /// The base ids of `ids` and how many ids were none of this pipeline's.
    pub fn expand(&self, ids: &[u32]) -> (Vec<u32>, usize) {
        let mut base = Vec::with_capacity(ids.len());
        let unknown = ids.iter().filter(|&&id| !self.ids.expand(id, &mut base)).count();
        (base, unknown)
    }

    /// Decodes any ids, leniently: ids outside the vocabulary are dropped and counted
    /// with the modality's repairs.
    pub fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        let (base, unknown) = self.expand(ids);
        let mut decoded = self.base.decode(&base)?;
        decoded.repairs += unknown;
        Ok(decoded)
    }

    /// The ids of a prompt file: its first document without the final EOS, cut to its
    /// first `length` units (of [`crate::Prompts::unit`]) when given.
    pub fn prompt(&self, source: &Source, length: Option<f64>) -> Result<Vec<u32>, TokenError> {
        let base = match (self.base.extras().prompts, length) {
            (Some(prompts), _) => prompts.prompt(source, length)?,
            (None, Some(_)) => {
                return Err(TokenError::format(
                    source.name(),
                    format!("a {} prompt cannot be cut: it has no unit of length", self.kind()),
                ));
            }
            (None, None) => {
                let mut doc = self.base.encode(source)?.into_iter().next().unwrap_or_default();
                if doc.last() == Some(&self.specials().eos) {
                    doc.pop();
                }
                doc
            }
        };
        if base.is_empty() {
            return Err(TokenError::format(source.name(), "the prompt holds nothing to encode"));
        }
        Ok(self.ids.merge(&base))
    }

    /// The class names; empty when the modality has no classes.
    pub fn classes(&self) -> &'a [String] {
        self.base.extras().classes.map(|c| c.names()).unwrap_or(&[])
    }

    /// The ids that start a sample of class number `class`: `BOS Class_k`, and the
    /// first frame's `FRAME Class_k` when every frame repeats the class.
    pub fn class_prompt(&self, class: usize) -> Result<Vec<u32>, TokenError> {
        let classes = self.base.extras().classes;
        let ids = classes.map(|c| c.ids()).unwrap_or(0..0);
        let n = ids.len();
        if class < n {
            let id = ids.start + class as u32;
            return Ok(match self.frames() {
                Some((frame, _)) if classes.is_some_and(|c| c.in_every_frame()) => {
                    vec![self.specials().bos, id, frame, id]
                }
                _ => vec![self.specials().bos, id],
            });
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

    /// How many ids at the start of `doc` describe the whole document: 2 for
    /// `BOS Class_k`, a mixture's up to its last tag (see [`Parts::prefix_len`]), else
    /// 1 (BOS). Training windows that start inside a document keep them in front.
    pub fn prefix_len(&self, doc: &[u32]) -> usize {
        if let Some(parts) = self.parts() {
            return parts.prefix_len(doc);
        }
        let classes = self.base.extras().classes.map(|c| c.ids()).unwrap_or(0..0);
        match doc {
            [bos, class, ..] if *bos == self.specials().bos && classes.contains(class) => 2,
            _ => 1,
        }
    }

    /// The frame token and the ids per frame, when documents are made of frames and
    /// no subword stage merges them (merges would make frames of unequal length).
    pub fn frames(&self) -> Option<(u32, usize)> {
        let frames = self.base.extras().frames.filter(|_| self.ids.is_identity())?;
        Some((frames.frame_token(), frames.frame_len()))
    }

    /// Encoding in pieces, when the modality has it and no subword stage follows.
    pub fn pieces(&self) -> Option<&'a dyn Pieces> {
        self.base.extras().pieces.filter(|_| self.ids.is_identity())
    }

    /// The parts, when this tokenizer is a mixture of several.
    pub fn parts(&self) -> Option<&'a dyn Parts> {
        self.base.extras().parts
    }

    /// Whether the modality augments training windows.
    pub fn augments(&self) -> bool {
        self.base.extras().augment.is_some()
    }

    /// Augments a training window, the variant chosen by `draw`. Augmentation works on
    /// base ids: under merges the window is expanded, augmented and merged again, so
    /// its length may change.
    pub fn augment(&self, window: &mut Vec<u32>, draw: u64) {
        let Some(augment) = self.base.extras().augment else { return };
        if self.ids.is_identity() {
            augment.augment(window, draw);
            return;
        }
        let (mut base, _) = self.expand(window);
        augment.augment(&mut base, draw);
        *window = self.ids.merge(&base);
    }

    /// The modality's unit for evaluation (`"note"`), if it has one.
    pub fn unit(&self) -> Option<&'static str> {
        self.base.extras().units.map(|u| u.unit())
    }

    /// How many units (see [`Pipeline::unit`]) the document `doc` holds.
    pub fn count_units(&self, doc: &[u32]) -> usize {
        let Some(units) = self.base.extras().units else { return 0 };
        if self.ids.is_identity() { units.count(doc) } else { units.count(&self.expand(doc).0) }
    }

    /// Other files that encoding `path` reads too; they key the data cache.
    pub fn companion_inputs(&self, path: &Path) -> Vec<PathBuf> {
        self.base.extras().inputs.map(|i| i.companion_inputs(path)).unwrap_or_default()
    }

    /// Writes the companion files of a sample decoded to `path`; returns their paths.
    pub fn write_companions(&self, ids: &[u32], path: &Path) -> Result<Vec<PathBuf>, TokenError> {
        match self.base.extras().companions {
            Some(c) => c.write_companions(&self.expand(ids).0, path),
            None => Ok(Vec::new()),
        }
    }

    /// Writes one picture of many samples (one row per entry of `rows`) to `path`;
    /// `false` when the modality has no such picture.
    pub fn write_overview(&self, rows: &[Vec<Vec<u32>>], path: &Path) -> Result<bool, TokenError> {
        let Some(overview) = self.base.extras().overview else { return Ok(false) };
        let rows: Vec<Vec<Vec<u32>>> =
            rows.iter().map(|row| row.iter().map(|ids| self.expand(ids).0).collect()).collect();
        overview.write_overview(&rows, path)?;
        Ok(true)
    }

    /// Checks that every id is inside the vocabulary.
    pub fn check_range(&self, ids: &[u32]) -> Result<(), TokenError> {
        let vocab_size = self.vocab_size();
        match ids.iter().position(|&t| t as usize >= vocab_size) {
            Some(position) => Err(TokenError::OutOfRange { token: ids[position], position, vocab_size }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::Pair;
    use crate::{Augment, Classes, Extras, MergeRule, Split};
    use std::ops::Range;

    /// Symbols 0-3, one class (4), specials 5-7; augmentation adds 1 to every symbol.
    struct Toy {
        classes: Vec<String>,
    }

    impl Modality for Toy {
        fn kind(&self) -> &'static str {
            "toy"
        }
        fn vocab_size(&self) -> usize {
            8
        }
        fn specials(&self) -> Specials {
            Specials::after(5)
        }
        fn token_name(&self, id: u32) -> Option<String> {
            (id < 8).then(|| format!("t{id}"))
        }
        fn merge_rule(&self) -> MergeRule {
            MergeRule { symbols: 4, bytes: false, default_split: Split::None }
        }
        fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
            let body = source.bytes.iter().map(|&b| u32::from(b) % 4);
            Ok(vec![std::iter::once(5).chain([4]).chain(body).chain([6]).collect()])
        }
        fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
            let bytes = ids.iter().filter(|&&id| id < 4).map(|&id| id as u8).collect();
            Ok(Decoded { bytes, extension: "toy".into(), repairs: 0, printable: false })
        }
        fn extras(&self) -> Extras<'_> {
            Extras { classes: Some(self), augment: Some(self), ..Extras::default() }
        }
    }

    impl Classes for Toy {
        fn names(&self) -> &[String] {
            &self.classes
        }
        fn ids(&self) -> Range<u32> {
            4..5
        }
    }

    impl Augment for Toy {
        fn augment(&self, window: &mut [u32], _draw: u64) {
            window.iter_mut().filter(|id| **id < 3).for_each(|id| *id += 1);
        }
    }

    /// Merges every `0 1` into id 8.
    const PAIRS: Pair = Pair { first: 0, second: 1, merged: 8 };

    fn toy() -> Toy {
        Toy { classes: vec!["only".into()] }
    }

    #[test]
    fn merges_and_expands_and_names_merged_ids() {
        let (base, pairs) = (toy(), PAIRS);
        let p = Pipeline::new(&base, &pairs);
        let doc = p.encode(&Source::new(Path::new("x"), &[0, 1, 2, 0, 1])).unwrap().remove(0);
        assert_eq!(doc, [5, 4, 8, 2, 8, 6]);
        assert_eq!(p.expand(&doc), (vec![5, 4, 0, 1, 2, 0, 1, 6], 0));
        assert_eq!(p.token_name(8).as_deref(), Some("t0+t1"));
        assert_eq!(p.token_name(9), None);
        let decoded = p.decode(&[8, 9, 2, 40]).unwrap();
        assert_eq!((decoded.bytes, decoded.repairs), (vec![0, 1, 2], 2));
        assert_eq!(p.prefix_len(&doc), 2);
        assert_eq!(p.class_prompt(0).unwrap(), [5, 4]);
        assert!(p.class_prompt(1).unwrap_err().to_string().contains("out of range: there are 1 classes"));
    }

    #[test]
    fn augmentation_works_on_base_ids_and_merges_again() {
        let (base, pairs) = (toy(), PAIRS);
        let p = Pipeline::new(&base, &pairs);
        // 0 1 -> 1 2 no longer merges: the window grows by one.
        let mut window = vec![5, 4, 8, 3];
        p.augment(&mut window, 0);
        assert_eq!(window, [5, 4, 1, 2, 3]);
        // Without merges it is done in place.
        let identity = Identity { vocab_size: 8 };
        let mut window = vec![5, 0, 1];
        Pipeline::new(&base, &identity).augment(&mut window, 0);
        assert_eq!(window, [5, 1, 2]);
    }

    #[test]
    fn a_prompt_without_a_unit_is_the_whole_first_document_without_eos() {
        let (base, pairs) = (toy(), PAIRS);
        let p = Pipeline::new(&base, &pairs);
        let source = Source::new(Path::new("p.toy"), &[0, 1]);
        assert_eq!(p.prompt(&source, None).unwrap(), [5, 4, 8]);
        let err = p.prompt(&source, Some(2.0)).unwrap_err().to_string();
        assert_eq!(err, "p.toy: a toy prompt cannot be cut: it has no unit of length");
    }
}
