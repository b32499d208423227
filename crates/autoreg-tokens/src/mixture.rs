//! Several tokenizers in one vocabulary, for runs with several sources: each part's ids
//! in a range of its own, one tag token per part that opens its segments, and shared
//! BOS/EOS/PAD. A document is `BOS <tag_i> ids_i... [<tag_j> ids_j...] EOS`; a source
//! paired with captions writes `BOS <tag_c> caption... <tag_i> ids_i... EOS`, `c` being
//! the part that captions are written in.

use crate::{Decoded, Extras, MergeRule, Modality, Pipeline, Source, Specials, Split, TokenError};

/// A whole tokenizer that a mixture holds as one of its parts.
pub trait Stages: Send + Sync {
    /// Its pipeline.
    fn pipeline(&self) -> Pipeline<'_>;

    /// A run of ids of its modality alone (before its learned stages, such as merges or
    /// a codec) in its pipeline's ids.
    fn stage_ids(&self, ids: &[u32]) -> Result<Vec<u32>, TokenError> {
        Ok(self.pipeline().ids.merge(ids))
    }
}

/// What the shared layers see of a mixture (the `parts` extra).
pub trait Parts: Sync {
    /// How many parts there are.
    fn count(&self) -> usize;

    /// Part `i`'s tokenizer.
    fn part(&self, i: usize) -> Pipeline<'_>;

    /// The tag token that opens part `i`'s segments.
    fn tag(&self, i: usize) -> u32;

    /// The part that captions are written in, if any.
    fn captions(&self) -> Option<usize>;

    /// The extensions of the files that part `i` reads, its own first.
    fn extensions(&self, i: usize) -> &[String];

    /// Part `i`'s ids (its specials left out) as ids of the mixture.
    fn to_mixed(&self, i: usize, ids: &[u32]) -> Vec<u32>;

    /// Part `i`'s document `doc` (`BOS ... EOS` in its ids) as a mixed document, opened
    /// by its tag, after `caption` (mixed ids, without tags) when given.
    fn document(&self, i: usize, doc: &[u32], caption: Option<&[u32]>) -> Vec<u32>;

    /// The segments of `ids`, up to the first EOS: each a document of its part's ids.
    fn segments(&self, ids: &[u32]) -> Vec<Segment>;

    /// Part `i`'s frames in this mixture's ids, when its documents are frames: the
    /// frame token and the ids per frame.
    fn frames(&self, i: usize) -> Option<(u32, usize)>;

    /// How many ids at the start of `doc` describe it: up to and including its last tag
    /// (`BOS <tag>`, or `BOS <tag_c> caption <tag_i>`).
    fn prefix_len(&self, doc: &[u32]) -> usize;

    /// Masks (to −∞) the logits of the ids that may not follow `row`: after BOS, only a
    /// tag; inside part `i`'s segment, only part `i`'s ids (its own specials left out),
    /// another part's tag, or EOS. With `target`, a row goes on to a segment of that part
    /// and ends inside it: before it, the only tags are the target's and the captions'
    /// and EOS is masked, and a caption of [`MAX_CAPTION`] ids is followed by the
    /// target's tag; inside it, tags are masked.
    fn mask(&self, row: &[u32], target: Option<usize>, logits: &mut [f32]);
}

/// The most ids a caption that the model writes may take before the target segment.
pub const MAX_CAPTION: usize = 64;

/// One segment of a mixed sequence: a document of its part's ids, `BOS ... EOS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The part.
    pub part: usize,
    /// The document, in the part's ids.
    pub ids: Vec<u32>,
    /// Ids of other parts met inside it, dropped.
    pub foreign: usize,
}

/// Several tokenizers in one vocabulary; see the module docs. Tags are named after
/// their part's kind (`<text>`, `<pixels>`), so no two parts have one kind.
#[derive(Clone, Debug)]
pub struct Mixture<P> {
    parts: Vec<P>,
    /// Per part, the extensions of the files it reads (lowercase, without the dot).
    extensions: Vec<Vec<String>>,
    captions: Option<usize>,
    /// `offsets[i]..offsets[i + 1]` are part `i`'s ids; the tags follow, then BOS, EOS
    /// and PAD.
    offsets: Vec<u32>,
    /// What each id is, looked up rather than worked out: the sampler's mask asks it of
    /// every id at every step.
    owners: Vec<Owner>,
}

/// What an id of a mixture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// One of part `i`'s ids, its own specials left out.
    Part(usize),
    /// One of part `i`'s own specials, which a mixed document never holds.
    PartSpecial(usize),
    /// Part `i`'s tag.
    Tag(usize),
    /// BOS, EOS or PAD.
    Shared,
}

impl<P: Stages> Mixture<P> {
    /// A mixture of `parts`, which read files of `extensions` (one list per part), with
    /// captions written in part `captions`.
    pub fn new(parts: Vec<P>, extensions: Vec<Vec<String>>, captions: Option<usize>) -> Result<Self, String> {
        if parts.is_empty() {
            return Err("a mixture needs at least one part".into());
        }
        if extensions.len() != parts.len() {
            return Err(format!("{} parts but {} lists of extensions", parts.len(), extensions.len()));
        }
        if let Some(c) = captions.filter(|&c| c >= parts.len()) {
            return Err(format!("the captions' part {c} is not one of the {} parts", parts.len()));
        }
        let kinds: Vec<&str> = parts.iter().map(|p| p.pipeline().kind()).collect();
        for (i, kind) in kinds.iter().enumerate() {
            if let Some(first) = kinds[..i].iter().position(|k| k == kind) {
                return Err(format!("parts {first} and {i} are both {kind}: one part per kind"));
            }
        }
        let mut offsets = vec![0u32];
        let mut owners = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let pipeline = p.pipeline();
            offsets.push(offsets[offsets.len() - 1] + pipeline.vocab_size() as u32);
            let specials = pipeline.specials();
            owners.extend(
                (0..pipeline.vocab_size() as u32)
                    .map(|id| if specials.contains(id) { Owner::PartSpecial(i) } else { Owner::Part(i) }),
            );
        }
        owners.extend((0..parts.len()).map(Owner::Tag));
        owners.extend([Owner::Shared; 3]);
        Ok(Self { parts, extensions, captions, offsets, owners })
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[P] {
        &self.parts
    }

    /// Per part, the extensions of the files it reads.
    pub fn extensions(&self) -> &[Vec<String>] {
        &self.extensions
    }

    /// The part whose kind is `kind`.
    pub fn part_named(&self, kind: &str) -> Option<usize> {
        self.parts.iter().position(|p| p.pipeline().kind() == kind)
    }

    /// Part `i`'s runs in `doc`: each maximal run of its ids, in the part's own ids. A
    /// document that a split cut (`split = "tail"`) has them without its tag.
    pub fn runs_of(&self, i: usize, doc: &[u32]) -> Vec<Vec<u32>> {
        let mine = |id: &u32| self.owner(*id) == Some(Owner::Part(i));
        let mut runs = Vec::new();
        let mut rest = doc;
        while let Some(start) = rest.iter().position(mine) {
            let len = rest[start..].iter().take_while(|id| mine(id)).count();
            runs.push(rest[start..start + len].iter().map(|&id| id - self.offsets[i]).collect());
            rest = &rest[start + len..];
        }
        runs
    }

    /// `doc`, in the ids of `base` (these parts before their learned stages, such as
    /// merges), in this mixture's ids: each run of one part's ids through that part's
    /// stages ([`Stages::stage_ids`]), every other id (tags, specials) kept. A document
    /// cut anywhere, as a split cuts one, is rebased whole.
    pub fn rebase(&self, base: &Self, doc: &[u32]) -> Result<Vec<u32>, TokenError> {
        let mut out = Vec::with_capacity(doc.len());
        let mut rest = doc;
        while let Some(&id) = rest.first() {
            let owner = base.owner(id);
            let len = match owner {
                Some(Owner::Part(_)) => rest.iter().take_while(|&&next| base.owner(next) == owner).count(),
                _ => 1,
            };
            match owner {
                Some(Owner::Part(i)) => {
                    let ids: Vec<u32> = rest[..len].iter().map(|&id| id - base.offsets[i]).collect();
                    out.extend(self.parts[i].stage_ids(&ids)?.into_iter().map(|id| id + self.offsets[i]));
                }
                // A part's specials keep their roles (BOS, EOS, PAD) whatever its stages.
                Some(Owner::PartSpecial(i)) => {
                    let role = id - base.offsets[i] - base.part(i).specials().bos;
                    out.push(self.part(i).specials().bos + role + self.offsets[i]);
                }
                Some(Owner::Tag(t)) => out.push(self.tag(t)),
                Some(Owner::Shared) => out.push(id - base.specials().bos + self.specials().bos),
                // Documents hold ids of the vocabulary only (the token cache checks).
                None => out.push(id),
            }
            rest = &rest[len..];
        }
        Ok(out)
    }

    /// The first tag's id.
    fn first_tag(&self) -> u32 {
        self.offsets[self.parts.len()]
    }

    /// What `id` is; `None` outside the vocabulary.
    fn owner(&self, id: u32) -> Option<Owner> {
        self.owners.get(id as usize).copied()
    }

    /// The part whose tag is `id`.
    fn tag_of(&self, id: u32) -> Option<usize> {
        match self.owner(id) {
            Some(Owner::Tag(i)) => Some(i),
            _ => None,
        }
    }
}

impl<P: Stages> Parts for Mixture<P> {
    fn count(&self) -> usize {
        self.parts.len()
    }

    fn part(&self, i: usize) -> Pipeline<'_> {
        self.parts[i].pipeline()
    }

    fn tag(&self, i: usize) -> u32 {
        self.first_tag() + i as u32
    }

    fn captions(&self) -> Option<usize> {
        self.captions
    }

    fn extensions(&self, i: usize) -> &[String] {
        &self.extensions[i]
    }

    fn to_mixed(&self, i: usize, ids: &[u32]) -> Vec<u32> {
        let specials = self.parts[i].pipeline().specials();
        ids.iter().filter(|&&id| !specials.contains(id)).map(|&id| id + self.offsets[i]).collect()
    }

    fn segments(&self, ids: &[u32]) -> Vec<Segment> {
        let mut segments: Vec<Segment> = Vec::new();
        let eos = self.specials().eos;
        for &id in ids.iter().take_while(|&&id| id != eos) {
            match (self.owner(id), segments.last_mut()) {
                (Some(Owner::Tag(part)), _) => {
                    segments.push(Segment { part, ids: vec![self.part(part).specials().bos], foreign: 0 });
                }
                (Some(Owner::Part(part)), Some(segment)) if part == segment.part => {
                    segment.ids.push(id - self.offsets[part]);
                }
                (Some(Owner::Part(_) | Owner::PartSpecial(_)), Some(segment)) => segment.foreign += 1,
                _ => {}
            }
        }
        for segment in &mut segments {
            segment.ids.push(self.part(segment.part).specials().eos);
        }
        segments
    }

    fn frames(&self, i: usize) -> Option<(u32, usize)> {
        self.part(i).frames().map(|(token, len)| (token + self.offsets[i], len))
    }

    fn document(&self, i: usize, doc: &[u32], caption: Option<&[u32]>) -> Vec<u32> {
        let specials = self.specials();
        let mut out = vec![specials.bos];
        if let (Some(c), Some(caption)) = (self.captions, caption) {
            out.push(self.tag(c));
            out.extend_from_slice(caption);
        }
        out.push(self.tag(i));
        out.extend(self.to_mixed(i, doc));
        out.push(specials.eos);
        out
    }

    fn prefix_len(&self, doc: &[u32]) -> usize {
        doc.iter().rposition(|&id| self.tag_of(id).is_some()).map_or(1, |at| at + 1)
    }

    fn mask(&self, row: &[u32], target: Option<usize>, logits: &mut [f32]) {
        let last_tag = row.iter().rposition(|&id| self.tag_of(id).is_some());
        let current = last_tag.and_then(|at| self.tag_of(row[at]));
        let eos = self.specials().eos;
        if let (Some(at), Some(goal)) = (last_tag, target)
            && current == self.captions
            && current != Some(goal)
            && row.len() - at > MAX_CAPTION
        {
            let tag = self.tag(goal) as usize;
            logits.iter_mut().enumerate().filter(|&(id, _)| id != tag).for_each(|(_, v)| *v = f32::NEG_INFINITY);
            return;
        }
        let tag_allowed = |t: usize| match (current, target) {
            (Some(c), _) if c == t => false,
            (Some(c), Some(goal)) if c == goal => false,
            (_, Some(goal)) => t == goal || Some(t) == self.captions,
            (_, None) => true,
        };
        let eos_allowed = current.is_some() && target.is_none_or(|goal| current == Some(goal));
        for (id, (logit, owner)) in logits.iter_mut().zip(&self.owners).enumerate() {
            let allowed = match *owner {
                Owner::Tag(t) => tag_allowed(t),
                Owner::Part(i) => current == Some(i),
                Owner::PartSpecial(_) => false,
                Owner::Shared => id == eos as usize && eos_allowed,
            };
            if !allowed {
                *logit = f32::NEG_INFINITY;
            }
        }
    }
}

impl<P: Stages> Modality for Mixture<P> {
    fn kind(&self) -> &'static str {
        "mixed"
    }

    fn vocab_size(&self) -> usize {
        self.specials().pad as usize + 1
    }

    fn specials(&self) -> Specials {
        Specials::after(self.first_tag() + self.parts.len() as u32)
    }

    fn token_name(&self, id: u32) -> Option<String> {
        if let Some(name) = self.specials().name(id) {
            return Some(name.to_owned());
        }
        match self.owner(id)? {
            Owner::Tag(t) => Some(format!("<{}>", self.part(t).kind())),
            Owner::Part(i) => {
                let part = self.part(i);
                Some(format!("{}:{}", part.kind(), part.token_name(id - self.offsets[i])?))
            }
            Owner::PartSpecial(_) | Owner::Shared => None,
        }
    }

    fn merge_rule(&self) -> MergeRule {
        // Each part merges its own ids; nothing merges across parts.
        MergeRule { symbols: 0, bytes: false, default_split: Split::None }
    }

    /// Encodes a file with the first part that reads its extension, without a caption.
    fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
        let extension = source.path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        let Some(i) = self.extensions.iter().position(|e| e.contains(&extension)) else {
            let known: Vec<&str> = self.extensions.iter().flatten().map(String::as_str).collect();
            return Err(TokenError::format(
                source.name(),
                format!("no part of this mixed tokenizer reads .{extension} files (they read {})", known.join(", ")),
            ));
        };
        Ok(self.part(i).encode(source)?.iter().map(|doc| self.document(i, doc, None)).collect())
    }

    /// Decodes the last segment, what follows a prompt's caption; [`Parts::segments`]
    /// gives each one. Ids of other parts inside it count as repairs.
    fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
        let segment = self.segments(ids).pop().unwrap_or_else(|| {
            let part = self.captions.unwrap_or(0);
            let specials = self.part(part).specials();
            Segment { part, ids: vec![specials.bos, specials.eos], foreign: 0 }
        });
        let mut decoded = self.part(segment.part).decode(&segment.ids)?;
        decoded.repairs += segment.foreign;
        Ok(decoded)
    }

    fn extras(&self) -> Extras<'_> {
        Extras { parts: Some(self), ..Extras::default() }
    }
}

/// Masks logits as [`Parts::mask`] does, for the sampler.
pub trait Grammar: Sync {
    /// Masks (to −∞) the logits of the ids that may not follow `row`.
    fn mask(&self, row: &[u32], logits: &mut [f32]);
}

/// A mixture's rules for rows that go on to a segment of `target` when given.
#[derive(Clone, Copy)]
pub struct SegmentRules<'a> {
    /// The mixture.
    pub parts: &'a dyn Parts,
    /// The part each row goes on to and ends in.
    pub target: Option<usize>,
}

impl Grammar for SegmentRules<'_> {
    fn mask(&self, row: &[u32], logits: &mut [f32]) {
        self.parts.mask(row, self.target, logits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IdModel, Identity};
    use std::path::Path;

    /// A toy modality of kind `kind`: symbols `0..n`, specials after them; a file's
    /// bytes modulo `n` are its symbols.
    #[derive(Debug)]
    struct Toy {
        kind: &'static str,
        n: u32,
        identity: Identity,
    }

    impl Toy {
        fn new(kind: &'static str, n: u32) -> Self {
            Self { kind, n, identity: Identity { vocab_size: Specials::vocab_after(n as usize) } }
        }
    }

    impl Modality for Toy {
        fn kind(&self) -> &'static str {
            self.kind
        }
        fn vocab_size(&self) -> usize {
            Specials::vocab_after(self.n as usize)
        }
        fn specials(&self) -> Specials {
            Specials::after(self.n)
        }
        fn token_name(&self, id: u32) -> Option<String> {
            (id < self.n).then(|| id.to_string())
        }
        fn merge_rule(&self) -> MergeRule {
            MergeRule { symbols: self.n, bytes: false, default_split: Split::None }
        }
        fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
            let s = self.specials();
            let body = source.bytes.iter().map(|&b| u32::from(b) % self.n);
            Ok(vec![std::iter::once(s.bos).chain(body).chain([s.eos]).collect()])
        }
        fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
            let bytes = ids.iter().filter(|&&id| id < self.n).map(|&id| id as u8).collect();
            Ok(Decoded { bytes, extension: self.kind.into(), repairs: 0, printable: false })
        }
        fn extras(&self) -> Extras<'_> {
            Extras::default()
        }
    }

    impl Stages for Toy {
        fn pipeline(&self) -> Pipeline<'_> {
            Pipeline::new(self, &self.identity)
        }
    }

    /// Part 0 "a" (ids 0-4: symbols 0-1), part 1 "b" (ids 5-9: symbols 5-6); tags 10,
    /// 11; BOS 12, EOS 13, PAD 14. Captions in part 0.
    fn mixture() -> Mixture<Toy> {
        let extensions = vec![vec!["a".into()], vec!["b".into()]];
        Mixture::new(vec![Toy::new("a", 2), Toy::new("b", 2)], extensions, Some(0)).unwrap()
    }

    #[test]
    fn ids_tags_and_specials_have_ranges_and_names_of_their_own() {
        let m = mixture();
        assert_eq!((m.vocab_size(), m.specials(), m.tag(0), m.tag(1)), (15, Specials::after(12), 10, 11));
        let names: Vec<String> = [0, 6, 10, 11, 13].iter().map(|&id| m.token_name(id).unwrap()).collect();
        assert_eq!(names, ["a:0", "b:1", "<a>", "<b>", "<eos>"]);
        assert_eq!(m.token_name(3), None, "a part's own specials have no name in the mixture");
        assert_eq!(m.token_name(15), None);
    }

    #[test]
    fn documents_and_segments_round_trip() {
        let m = mixture();
        let docs = m.encode(&Source::new(Path::new("x.b"), &[1, 0, 1])).unwrap();
        assert_eq!(docs, [vec![12, 11, 6, 5, 6, 13]]);
        let captioned = m.document(1, &[2, 1, 0, 3], Some(&[0, 1]));
        assert_eq!(captioned, [12, 10, 0, 1, 11, 6, 5, 13]);
        assert_eq!(m.prefix_len(&captioned), 5);
        assert_eq!(m.prefix_len(&docs[0]), 2);
        let segments = m.segments(&[12, 10, 0, 1, 11, 6, 0, 5, 13, 11, 5]);
        let expected = [
            Segment { part: 0, ids: vec![2, 0, 1, 3], foreign: 0 },
            Segment { part: 1, ids: vec![2, 1, 0, 3], foreign: 1 },
        ];
        assert_eq!(segments, expected);
        let decoded = m.decode(&[12, 10, 0, 1, 11, 6, 0, 5, 13]).unwrap();
        assert_eq!((decoded.bytes, decoded.extension.as_str(), decoded.repairs), (vec![1, 0], "b", 1));
        let err = m.encode(&Source::new(Path::new("x.png"), &[1])).unwrap_err().to_string();
        assert_eq!(err, "x.png: no part of this mixed tokenizer reads .png files (they read a, b)");
    }

    /// A toy id model over `base` ids: `0 1` merged into id `base`.
    struct Pairs {
        base: u32,
    }

    impl IdModel for Pairs {
        fn vocab_size(&self) -> usize {
            self.base as usize + 1
        }
        fn is_identity(&self) -> bool {
            false
        }
        fn merge(&self, ids: &[u32]) -> Vec<u32> {
            let mut out = Vec::new();
            let mut rest = ids;
            while let Some(&id) = rest.first() {
                let pair = rest.starts_with(&[0, 1]);
                out.push(if pair { self.base } else { id });
                rest = &rest[if pair { 2 } else { 1 }..];
            }
            out
        }
        fn expand(&self, id: u32, out: &mut Vec<u32>) -> bool {
            match id {
                id if id == self.base => out.extend([0, 1]),
                id if id < self.base => out.push(id),
                _ => return false,
            }
            true
        }
    }

    /// A toy part, with or without the pairs merged.
    struct Staged {
        toy: Toy,
        pairs: Option<Pairs>,
    }

    impl Stages for Staged {
        fn pipeline(&self) -> Pipeline<'_> {
            match &self.pairs {
                Some(pairs) => Pipeline::new(&self.toy, pairs),
                None => self.toy.pipeline(),
            }
        }
    }

    #[test]
    fn rebasing_merges_each_run_of_a_part_and_keeps_tags_and_specials_even_in_a_cut_document() {
        let staged = |merged: bool| {
            let parts = ["a", "b"].map(|kind| Staged { toy: Toy::new(kind, 2), pairs: None });
            let [mut a, b] = parts;
            a.pairs = merged.then(|| Pairs { base: a.toy.vocab_size() as u32 });
            let extensions = vec![vec!["a".into()], vec!["b".into()]];
            Mixture::new(vec![a, b], extensions, Some(0)).unwrap()
        };
        // Base: a 0-4, b 5-9, tags 10-11, BOS 12, EOS 13. Merged: a 0-5 (5 is 0+1), b 6-10,
        // tags 11-12, BOS 13, EOS 14.
        let (base, merged) = (staged(false), staged(true));
        let doc = [12, 10, 0, 1, 0, 11, 6, 5, 13];
        assert_eq!(merged.rebase(&base, &doc).unwrap(), [13, 11, 5, 0, 12, 7, 6, 14]);
        assert_eq!(base.runs_of(0, &doc), [vec![0, 1, 0]]);
        // The tail of a document that a split cut off: no BOS, no tag.
        let tail = [1, 0, 1, 1, 13];
        assert_eq!(merged.rebase(&base, &tail).unwrap(), [1, 5, 1, 14]);
        assert_eq!(base.runs_of(0, &tail), [vec![1, 0, 1, 1]]);
        assert_eq!(base.rebase(&base, &doc).unwrap(), doc, "without stages, rebasing changes nothing");
    }

    /// The ids that `mask` leaves after `row`.
    fn allowed(m: &Mixture<Toy>, row: &[u32], target: Option<usize>) -> Vec<u32> {
        let mut logits = vec![0.0; m.vocab_size()];
        m.mask(row, target, &mut logits);
        (0..m.vocab_size() as u32).filter(|&id| logits[id as usize].is_finite()).collect()
    }

    #[test]
    fn a_segment_holds_only_its_parts_ids() {
        let m = mixture();
        assert_eq!(allowed(&m, &[12], None), [10, 11]);
        assert_eq!(allowed(&m, &[12, 11, 5], None), [5, 6, 10, 13]);
        assert_eq!(allowed(&m, &[12, 10, 0], None), [0, 1, 11, 13]);
        // Going on to part 1: after BOS, its tag or the captions'; no EOS in a caption.
        assert_eq!(allowed(&m, &[12], Some(1)), [10, 11]);
        assert_eq!(allowed(&m, &[12, 10, 0], Some(1)), [0, 1, 11]);
        assert_eq!(allowed(&m, &[12, 10, 0, 11], Some(1)), [5, 6, 13]);
        // A caption of MAX_CAPTION ids is followed by the target's tag.
        let long: Vec<u32> = [12, 10].into_iter().chain(std::iter::repeat_n(0, MAX_CAPTION)).collect();
        assert_eq!(allowed(&m, &long, Some(1)), [11]);
        assert_eq!(allowed(&m, &long[..long.len() - 1], Some(1)), [0, 1, 11]);
    }

    #[test]
    fn two_parts_of_one_kind_or_a_missing_captions_part_are_refused() {
        let ext = || vec![vec![], vec![]];
        let err = Mixture::new(vec![Toy::new("a", 2), Toy::new("a", 3)], ext(), None).unwrap_err();
        assert_eq!(err, "parts 0 and 1 are both a: one part per kind");
        let err = Mixture::new(vec![Toy::new("a", 2), Toy::new("b", 3)], ext(), Some(2)).unwrap_err();
        assert!(err.contains("captions' part 2"), "{err}");
    }
}
