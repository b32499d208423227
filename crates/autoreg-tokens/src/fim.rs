//! Fill in the middle (Bavarian et al. 2022, "Efficient Training of Language Models to
//! Fill in the Middle"): a document cut at two unit boundaries (lines, bars, rows) and
//! rearranged behind sentinel tokens, so that a left-to-right model learns to write the
//! middle given what comes before and after it.
//!
//! A document `head prefix middle suffix` (its head being BOS and what describes it, a
//! class or a language) is trained as
//! - PSM: `head <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle EOS`, or
//! - SPM: `head <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle EOS`,
//!
//! and infilled from the SPM prompt `head <fim_prefix> <fim_suffix> suffix <fim_middle>
//! prefix`: what the model writes up to EOS is the middle.

use crate::Pipeline;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;

/// The three sentinel ids of fill in the middle, after every other id of a tokenizer
/// (after a mixture's shared specials too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentinels {
    /// `<fim_prefix>`: opens the prefix.
    pub prefix: u32,
    /// `<fim_suffix>`: opens the suffix.
    pub suffix: u32,
    /// `<fim_middle>`: opens the middle, which ends with EOS.
    pub middle: u32,
}

impl Sentinels {
    /// How many sentinels there are.
    pub const COUNT: usize = 3;

    /// The sentinels right after a vocabulary of `n` ids: `n`, `n + 1`, `n + 2`.
    pub fn after(n: u32) -> Self {
        Self { prefix: n, suffix: n + 1, middle: n + 2 }
    }

    /// The three ids, in order.
    pub fn ids(&self) -> [u32; 3] {
        [self.prefix, self.suffix, self.middle]
    }

    /// The name of `id` if it is a sentinel.
    pub fn name(&self, id: u32) -> Option<&'static str> {
        match id {
            i if i == self.prefix => Some("<fim_prefix>"),
            i if i == self.suffix => Some("<fim_suffix>"),
            i if i == self.middle => Some("<fim_middle>"),
            _ => None,
        }
    }
}

/// Where a modality's units (lines, bars, rows) start: the places a fill-in-the-middle
/// cut may fall.
pub trait Spans {
    /// The unit, singular (`"line"`, `"bar"`, `"row"`).
    fn unit(&self) -> &'static str;

    /// The boundaries between the units of `ids`, base ids from a document's start (or,
    /// when [`Spans::marked`], any run of ids cut from a document), in order: one before
    /// each unit and one after the last (at EOS, when `ids` hold it). Each is the range
    /// of positions where a cut there may fall (a line's start and the blanks that indent
    /// it), so that merged ids that cross its exact start still leave a place to cut.
    fn boundaries(&self, ids: &[u32]) -> Vec<RangeInclusive<usize>>;

    /// Whether the units are marked by ids (a newline, a `Bar`), so that a run cut from
    /// inside a document shows them; else (rows, counted from the document's start) only
    /// runs from a document's start are cut.
    fn marked(&self) -> bool {
        true
    }
}

/// The order of a training document's three parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Prefix, suffix, middle.
    Psm,
    /// Suffix, prefix and middle together.
    Spm,
}

/// A document's cut: its head (`doc[..head]`, kept in front), then the prefix
/// `doc[head..a]`, the middle `doc[a..b]` and the suffix `doc[b..]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The head's length.
    pub head: usize,
    /// Where the middle starts.
    pub a: usize,
    /// Where the suffix starts.
    pub b: usize,
}

impl Cut {
    /// The infilling prompt of `doc`, in SPM order without the middle: `head
    /// <fim_prefix> <fim_suffix> suffix <fim_middle> prefix`, so that the middle the
    /// model writes follows the prefix it continues (small models infill better so than
    /// from PSM's `prefix <fim_suffix> suffix <fim_middle>`, where the prefix's end lies
    /// a whole suffix back). Within `budget` ids when the head and sentinels fit in it:
    /// the prefix's end and the suffix's start, what one side does not need going to the
    /// other, as a training window holds what is near its middle. A prefix cut at its
    /// start keeps the head in front only with `keep_head` (windows of whole documents
    /// keep it; a stream's window from inside a document has none).
    pub fn prompt(&self, doc: &[u32], sentinels: Sentinels, budget: usize, keep_head: bool) -> Vec<u32> {
        let (prefix, suffix) = (&doc[self.head..self.a], &doc[self.b..]);
        let room = budget.saturating_sub(self.head + Sentinels::COUNT);
        let half = room / 2;
        let keep_prefix = prefix.len().min(room.saturating_sub(suffix.len().min(room - half)));
        let keep_suffix = suffix.len().min(room - keep_prefix);
        let head = if keep_head || keep_prefix == prefix.len() { &doc[..self.head] } else { &[] };
        let mut out = Vec::with_capacity(head.len() + keep_prefix + keep_suffix + Sentinels::COUNT);
        out.extend_from_slice(head);
        out.extend([sentinels.prefix, sentinels.suffix]);
        out.extend_from_slice(&suffix[..keep_suffix]);
        out.push(sentinels.middle);
        out.extend_from_slice(&prefix[prefix.len() - keep_prefix..]);
        out
    }

    /// `doc` rearranged for training in `order`, the middle closed by `eos`.
    pub fn arrange(&self, doc: &[u32], order: Order, sentinels: Sentinels, eos: u32) -> Vec<u32> {
        let mut out = match order {
            Order::Spm => self.prompt(doc, sentinels, usize::MAX, true),
            Order::Psm => {
                let mut out = Vec::with_capacity(doc.len() + Sentinels::COUNT + 1);
                out.extend_from_slice(&doc[..self.head]);
                out.push(sentinels.prefix);
                out.extend_from_slice(&doc[self.head..self.a]);
                out.push(sentinels.suffix);
                out.extend_from_slice(&doc[self.b..]);
                out.push(sentinels.middle);
                out
            }
        };
        out.extend_from_slice(&doc[self.a..self.b]);
        out.push(eos);
        out
    }
}

/// `[data] fim_rate` and `fim_spm`: how often a training window is rearranged, and in
/// which order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FimRates {
    /// The chance that a document's piece of a window is rearranged.
    pub rate: f64,
    /// The chance that a rearranged piece is in SPM order rather than PSM.
    pub spm: f64,
}

impl<'a> Pipeline<'a> {
    /// For each of the modality's unit boundaries in `ids` (this pipeline's ids), in
    /// order: the first place between two ids (never inside a merged id) at or after its
    /// start, from `0..=ids.len()`, and whether that place lies within the boundary.
    /// `from_start` says whether `ids` start at a document's start; units that are not
    /// marked by ids are found only then. Empty when the modality has no units to cut.
    fn unit_places(&self, ids: &[u32], from_start: bool) -> Vec<(usize, bool)> {
        let Some(spans) = self.base.extras().spans.filter(|s| from_start || s.marked()) else { return Vec::new() };
        // starts[i]: where id i's base ids start; starts[len]: the base length.
        let mut base = Vec::with_capacity(ids.len());
        let mut starts = Vec::with_capacity(ids.len() + 1);
        for &id in ids {
            starts.push(base.len());
            self.ids.expand(id, &mut base);
        }
        starts.push(base.len());
        spans
            .boundaries(&base)
            .into_iter()
            .filter_map(|range| {
                let i = starts.partition_point(|&s| s < *range.start());
                (i < starts.len()).then(|| (i, starts[i] <= *range.end()))
            })
            .collect()
    }

    /// The places in `ids` (this pipeline's ids) where a fill-in-the-middle cut may
    /// fall: between two ids, on one of the modality's unit boundaries (the first such
    /// place of each), in order. `from_start` says whether `ids` start at a document's
    /// start: units that are not marked by ids are found only then.
    pub fn unit_cuts(&self, ids: &[u32], from_start: bool) -> Vec<usize> {
        let mut cuts: Vec<usize> =
            self.unit_places(ids, from_start).into_iter().filter(|&(_, inside)| inside).map(|(i, _)| i).collect();
        cuts.dedup();
        cuts
    }

    /// The place of each unit boundary of `doc`, a whole document in this pipeline's ids:
    /// unit `k` (from 0) is `doc[bounds[k]..bounds[k + 1]]`. A boundary that falls inside
    /// a merged id moves on to that id's end.
    pub fn unit_bounds(&self, doc: &[u32]) -> Vec<usize> {
        self.unit_places(doc, true).into_iter().map(|(i, _)| i).collect()
    }

    /// The cut of `doc` (a whole document in this pipeline's ids) whose middle is units
    /// `first..=last`, counted from 1 in the modality's unit; the reason names what is
    /// wrong: no units, a span out of range, reversed, or holding no id.
    pub fn infill_cut(&self, doc: &[u32], first: usize, last: usize) -> Result<Cut, String> {
        let unit = self.span_unit().ok_or_else(|| format!("a {} document has no units to infill", self.kind()))?;
        let bounds = self.unit_bounds(doc);
        let units = bounds.len().saturating_sub(1);
        if first > last {
            return Err(format!("{first}:{last} is reversed: give the first {unit} first"));
        }
        if first == 0 || last > units {
            return Err(format!("{first}:{last} is out of range: {unit}s count from 1, and this file has {units}"));
        }
        let (a, b) = (bounds[first - 1], bounds[last]);
        if a >= b {
            return Err(format!("{unit}s {first} to {last} hold nothing to infill"));
        }
        Ok(Cut { head: self.prefix_len(doc).min(a), a, b })
    }

    /// The unit that `--span` counts in, if the modality has units to cut.
    pub fn span_unit(&self) -> Option<&'static str> {
        self.base.extras().spans.map(|s| s.unit())
    }

    /// Rearranges a training window for fill in the middle, in place: each document's
    /// piece of it (the window cut after every EOS) is, with chance `rates.rate`, cut at
    /// two of its unit boundaries drawn at random and rearranged (see the module docs),
    /// its head (BOS and what describes the document) kept in front. `from_start` says
    /// whether the window's first piece starts at its document's start. A rearranged
    /// piece grows by the sentinels and the middle's EOS: one that would pass `limit`
    /// ids in all is cut at its end first, so that its middle keeps its EOS, and ends the
    /// window. Pieces left in order may pass `limit`: the caller cuts the window back.
    /// Without sentinels, or for a modality without units, the window is left as it is.
    pub fn fill_in_the_middle<R: Rng + ?Sized>(
        &self,
        window: &mut Vec<u32>,
        from_start: bool,
        rates: FimRates,
        limit: usize,
        rng: &mut R,
    ) {
        let Some(sentinels) = self.fim else { return };
        if self.base.extras().spans.is_none() || rates.rate <= 0.0 {
            return;
        }
        const GROWTH: usize = Sentinels::COUNT + 1;
        let eos = self.specials().eos;
        let mut out = Vec::with_capacity(window.len() + GROWTH);
        let mut rest = &window[..];
        let mut first = true;
        while !rest.is_empty() && out.len() < limit {
            let len = rest.iter().position(|&t| t == eos).map_or(rest.len(), |e| e + 1);
            let (whole, after) = rest.split_at(len);
            rest = after;
            let from_start = from_start || !first;
            first = false;
            if !rng.random_bool(rates.rate.min(1.0)) {
                out.extend_from_slice(whole);
                continue;
            }
            let piece = &whole[..whole.len().min((limit - out.len()).saturating_sub(GROWTH))];
            let head = if piece.first() == Some(&self.specials().bos) { self.prefix_len(piece) } else { 0 };
            let end = piece.len() - usize::from(piece.last() == Some(&eos));
            // A piece that does not start at its document's start may start inside a
            // unit: its first place is no boundary.
            let lowest = if from_start { head } else { head + 1 };
            let cuts: Vec<usize> =
                self.unit_cuts(piece, from_start).into_iter().filter(|&c| (lowest..=end).contains(&c)).collect();
            if cuts.is_empty() {
                out.extend_from_slice(whole);
                continue;
            }
            let (x, y) = (cuts[rng.random_range(0..cuts.len())], cuts[rng.random_range(0..cuts.len())]);
            let cut = Cut { head, a: x.min(y), b: x.max(y) };
            let order = if rng.random_bool(rates.spm.clamp(0.0, 1.0)) { Order::Spm } else { Order::Psm };
            out.extend(cut.arrange(piece, order, sentinels, eos));
        }
        *window = out;
    }
}

/// The boundaries of lines in `ids` (see [`Spans::boundaries`]): at `head` (where a
/// document's text starts, when `ids` start with its head) through the blanks that
/// indent its first line; from every newline (a cut before it ends the line, the newline
/// going with what follows) through the blanks that indent the next line; and at `eos`
/// after a last line without a newline. What each id is comes from `glyph`.
pub fn line_boundaries(
    ids: &[u32],
    head: Option<usize>,
    eos: u32,
    glyph: impl Fn(u32) -> Glyph,
) -> Vec<RangeInclusive<usize>> {
    let mut out: Vec<RangeInclusive<usize>> = Vec::new();
    let indent = |from: usize| from + ids[from..].iter().take_while(|&&t| glyph(t) == Glyph::Blank).count();
    if let Some(h) = head.filter(|&h| h <= ids.len()) {
        out.push(h..=indent(h));
    }
    for (i, &t) in ids.iter().enumerate() {
        if t == eos {
            // After a final newline, the boundary before it already ends the last line.
            if out.last().is_none_or(|r| !r.contains(&i)) {
                out.push(i..=i);
            }
            break;
        }
        if glyph(t) == Glyph::Newline && out.last().is_none_or(|r| *r.start() != i) {
            out.push(i..=indent(i + 1));
        }
    }
    out
}

/// The boundaries of units that each start with a marker id (a `Bar`, a frame token) in
/// `ids` (see [`Spans::boundaries`]): at every marker, and at `eos`.
pub fn marker_boundaries(ids: &[u32], marker: u32, eos: u32) -> Vec<RangeInclusive<usize>> {
    let end = ids.iter().position(|&t| t == eos).map_or(ids.len(), |e| e + 1);
    ids[..end].iter().enumerate().filter(|&(_, &t)| t == marker || t == eos).map(|(i, _)| i..=i).collect()
}

/// What an id of text is, for cutting it into lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Glyph {
    /// A newline (`\n`).
    Newline,
    /// A space or a tab, which indents a line.
    Blank,
    /// Anything else.
    Other,
}

impl Glyph {
    /// What the character `c` is.
    pub fn of(c: char) -> Self {
        match c {
            '\n' => Self::Newline,
            ' ' | '\t' => Self::Blank,
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::Pair;
    use crate::{Decoded, Extras, MergeRule, Modality, Source, Specials, Split, TokenError};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Text of four characters: 0 `\n`, 1 ` `, 2 `a`, 3 `b`; BOS 4, EOS 5, PAD 6.
    struct Lines;

    const CHARS: [char; 4] = ['\n', ' ', 'a', 'b'];

    impl Modality for Lines {
        fn kind(&self) -> &'static str {
            "lines"
        }
        fn vocab_size(&self) -> usize {
            7
        }
        fn specials(&self) -> Specials {
            Specials::after(4)
        }
        fn token_name(&self, id: u32) -> Option<String> {
            CHARS.get(id as usize).map(|c| c.to_string())
        }
        fn merge_rule(&self) -> MergeRule {
            MergeRule { symbols: 4, bytes: false, default_split: Split::None }
        }
        fn encode(&self, source: &Source) -> Result<Vec<Vec<u32>>, TokenError> {
            let body = source.bytes.iter().map(|&b| CHARS.iter().position(|&c| c as u8 == b).unwrap_or(2) as u32);
            Ok(vec![std::iter::once(4).chain(body).chain([5]).collect()])
        }
        fn decode(&self, ids: &[u32]) -> Result<Decoded, TokenError> {
            let bytes = ids.iter().filter_map(|&i| CHARS.get(i as usize)).map(|&c| c as u8).collect();
            Ok(Decoded { bytes, extension: "txt".into(), repairs: 0, printable: true })
        }
        fn extras(&self) -> Extras<'_> {
            Extras { spans: Some(self), ..Extras::default() }
        }
    }

    impl Spans for Lines {
        fn unit(&self) -> &'static str {
            "line"
        }
        fn boundaries(&self, ids: &[u32]) -> Vec<RangeInclusive<usize>> {
            let head = (ids.first() == Some(&4)).then_some(1);
            line_boundaries(ids, head, 5, |t| CHARS.get(t as usize).map_or(Glyph::Other, |&c| Glyph::of(c)))
        }
    }

    /// Merges every `\n ` (0 1) into id 7.
    const NEWLINE_SPACE: Pair = Pair { first: 0, second: 1, merged: 7 };

    fn doc(text: &str) -> Vec<u32> {
        Lines.encode(&Source::new(std::path::Path::new("t"), text.as_bytes())).unwrap().remove(0)
    }

    #[test]
    fn lines_are_bounded_from_the_newline_through_the_next_indent() {
        // BOS a \n _ _ b \n \n a EOS
        let ids = doc("a\n  b\n\na");
        let bounds = Lines.boundaries(&ids);
        assert_eq!(bounds, [1..=1, 2..=5, 6..=7, 7..=8, 9..=9]);
        // A final newline ends the last line: no empty line after it.
        assert_eq!(Lines.boundaries(&doc("a\nb\n")), [1..=1, 2..=3, 4..=5]);
    }

    #[test]
    fn cuts_fall_on_lines_and_never_inside_a_merged_id() {
        let identity = crate::Identity { vocab_size: 7 };
        let plain = Pipeline::new(&Lines, &identity);
        let ids = doc("a\n b\n b");
        assert_eq!(plain.unit_cuts(&ids, true), [1, 2, 5, 8]);
        let merged = Pipeline::new(&Lines, &NEWLINE_SPACE);
        let ids = merged.ids.merge(&ids); // BOS a [\n ] b [\n ] b EOS
        assert_eq!(ids, [4, 2, 7, 3, 7, 3, 5]);
        assert_eq!(merged.unit_cuts(&ids, true), [1, 2, 4, 6]);
        assert_eq!(merged.unit_bounds(&ids), [1, 2, 4, 6]);
        // Spans of lines, from 1, both included.
        assert_eq!(merged.infill_cut(&ids, 2, 3), Ok(Cut { head: 1, a: 2, b: 6 }));
        assert_eq!(merged.infill_cut(&ids, 1, 1), Ok(Cut { head: 1, a: 1, b: 2 }));
        let err = |first, last| merged.infill_cut(&ids, first, last).unwrap_err();
        assert_eq!(err(3, 2), "3:2 is reversed: give the first line first");
        assert_eq!(err(0, 2), "0:2 is out of range: lines count from 1, and this file has 3");
        assert_eq!(err(2, 4), "2:4 is out of range: lines count from 1, and this file has 3");
    }

    #[test]
    fn psm_and_spm_keep_the_head_in_front_and_close_the_middle() {
        let s = Sentinels::after(10);
        let cut = Cut { head: 1, a: 3, b: 5 };
        let doc = [4, 0, 1, 2, 3, 0, 5];
        assert_eq!(cut.prompt(&doc, s, usize::MAX, false), [4, 10, 11, 0, 5, 12, 0, 1]);
        // Within a budget: the prefix's end and the suffix's start, shared evenly, the
        // head kept in front of a prefix cut short only when asked...
        assert_eq!(cut.prompt(&doc, s, 6, true), [4, 10, 11, 0, 12, 1]);
        assert_eq!(cut.prompt(&doc, s, 6, false), [10, 11, 0, 12, 1]);
        // ...what one side does not need going to the other.
        let long = Cut { head: 1, a: 2, b: 3 };
        assert_eq!(long.prompt(&doc, s, 7, false), [4, 10, 11, 2, 3, 12, 0]);
        assert_eq!(long.prompt(&doc, s, 2, true), [4, 10, 11, 12]);
        assert_eq!(cut.arrange(&doc, Order::Psm, s, 5), [4, 10, 0, 1, 11, 0, 5, 12, 2, 3, 5]);
        assert_eq!(cut.arrange(&doc, Order::Spm, s, 5), [4, 10, 11, 0, 5, 12, 0, 1, 2, 3, 5]);
        assert_eq!((s.name(11), s.name(13)), (Some("<fim_suffix>"), None));
    }

    /// Undoes a PSM or SPM arrangement of one document: the document, and where its
    /// middle was.
    fn undo(ids: &[u32], s: Sentinels) -> (Vec<u32>, usize, usize) {
        let at = |t: u32| ids.iter().position(|&i| i == t).unwrap();
        let (p, q, m) = (at(s.prefix), at(s.suffix), at(s.middle));
        let head = &ids[..p];
        let body = &ids[m + 1..ids.len() - 1]; // the middle's EOS dropped
        if q > p + 1 {
            let (prefix, suffix) = (&ids[p + 1..q], &ids[q + 1..m]);
            let a = head.len() + prefix.len();
            ([head, prefix, body, suffix].concat(), a, a + body.len())
        } else {
            // SPM: the body is prefix and middle, whose split the suffix does not tell.
            let suffix = &ids[q + 1..m];
            ([head, body, suffix].concat(), usize::MAX, head.len() + body.len())
        }
    }

    #[test]
    fn the_transform_rearranges_whole_lines_and_can_be_undone() {
        let merged = Pipeline::new(&Lines, &NEWLINE_SPACE).with_fim();
        let s = merged.fim.unwrap();
        assert_eq!(s, Sentinels::after(8));
        assert_eq!(merged.vocab_size(), 11);
        assert_eq!(merged.token_name(10).as_deref(), Some("<fim_middle>"));
        let original = merged.ids.merge(&doc("ab\n a\n  b\nba\n b"));
        let cuts = merged.unit_cuts(&original, true);
        let mut rng = StdRng::seed_from_u64(7);
        let (mut psm, mut spm) = (0, 0);
        for _ in 0..200 {
            let mut window = original.clone();
            merged.fill_in_the_middle(&mut window, true, FimRates { rate: 1.0, spm: 0.5 }, usize::MAX, &mut rng);
            assert_eq!(window.len(), original.len() + 4, "three sentinels and the middle's EOS");
            let (back, a, b) = undo(&window, s);
            assert_eq!(back, original);
            assert!(cuts.contains(&b), "the middle ends at a line: {b} of {cuts:?}");
            if a == usize::MAX {
                spm += 1;
            } else {
                assert!(cuts.contains(&a), "the middle starts at a line: {a} of {cuts:?}");
                psm += 1;
            }
        }
        assert!(psm > 60 && spm > 60, "both orders are drawn: {psm} PSM, {spm} SPM");
        // Within a limit, the piece is cut at its end first: the middle keeps its EOS.
        for _ in 0..50 {
            let mut window = original.clone();
            let rates = FimRates { rate: 1.0, spm: 0.0 };
            merged.fill_in_the_middle(&mut window, true, rates, original.len(), &mut rng);
            assert!(window.len() <= original.len() && window.last() == Some(&5), "{window:?}");
            let (back, _, _) = undo(&window, s);
            assert_eq!(back[..], original[..back.len()]);
        }
        // At rate 0, and without sentinels, windows are left alone.
        let mut window = original.clone();
        merged.fill_in_the_middle(&mut window, true, FimRates { rate: 0.0, spm: 0.5 }, usize::MAX, &mut rng);
        Pipeline::new(&Lines, &NEWLINE_SPACE).fill_in_the_middle(
            &mut window,
            true,
            FimRates { rate: 1.0, spm: 0.5 },
            usize::MAX,
            &mut rng,
        );
        assert_eq!(window, original);
    }

    #[test]
    fn each_document_of_a_window_is_cut_on_its_own() {
        let identity = crate::Identity { vocab_size: 7 };
        let p = Pipeline::new(&Lines, &identity).with_fim();
        let s = p.fim.unwrap();
        // The end of one document (no head: it starts mid-line), then a whole one.
        let first = [2, 0, 3, 0, 2, 5];
        let second = doc("a\nb\nab");
        let window: Vec<u32> = [&first[..], &second].concat();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let mut w = window.clone();
            p.fill_in_the_middle(&mut w, false, FimRates { rate: 1.0, spm: 0.0 }, usize::MAX, &mut rng);
            let (one, two) = w.split_at(w.iter().position(|&t| t == 4).unwrap());
            assert_eq!(undo(two, s).0, second);
            let (one, a, _) = undo(one, s);
            assert_eq!(one, first);
            // A piece that starts mid-line is never cut at its first place.
            assert!(a > 0);
        }
    }
}
