//! Cutting a document of base ids into the words that merges stay inside.
//!
//! Words are bounded, so that learning and applying merges take bounded memory and
//! time whatever the input: Hugging Face's byte-level pre-tokenizer keeps several
//! words of bookkeeping per byte of the text it is given, so it reads a document's text
//! [`WINDOW`] bytes at a time, and its trainer inserts and removes symbols in place
//! (a merge costs a word's length per occurrence), so no word is longer than
//! [`MAX_WORD_BYTES`] (GPT-2's words) or [`MAX_RUN`] ids (other splits). Longer words are
//! cut into consecutive pieces of at most that length: nothing is lost, merges do not
//! cross the cuts.

use crate::alphabet::Alphabet;
use autoreg_tokens::Split;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

/// Bytes of text the byte-level pre-tokenizer reads at once.
pub(crate) const WINDOW: usize = 1 << 16;

/// The longest word of GPT-2's byte-level words, in bytes; far above any word of
/// ordinary text or code (the longest of the Python standard library's carried part is
/// 80), so that those are cut exactly as Python's `tokenizers` cuts them.
pub(crate) const MAX_WORD_BYTES: usize = 1 << 10;

/// The longest run of ids between split points (`split = "none"` or a token name),
/// above a 16,000-sample recording or a 64x64 RGB image.
pub(crate) const MAX_RUN: usize = 1 << 14;

/// Bytes past a word's end that the byte-level pre-tokenizer's pattern may look at to
/// decide it (a contraction's three bytes, the character after a run of whitespace,
/// the one after that): a word that ends this close to the end of a window may be cut
/// differently in the whole text, so it is read again at the start of the next window.
const MARGIN: usize = 16;

/// Cuts documents into words: runs of mergeable ids, cut further by the split.
#[derive(Clone, Debug)]
pub(crate) struct Words {
    pub alphabet: Alphabet,
    split: Split,
    /// With [`Split::Before`], the ids a word may only start with, sorted.
    split_ids: Vec<u32>,
    symbols: u32,
}

impl Words {
    pub fn new(alphabet: Alphabet, split: Split, mut split_ids: Vec<u32>, symbols: u32) -> Self {
        split_ids.sort_unstable();
        Self { alphabet, split, split_ids, symbols }
    }

    /// Calls `f` on each piece of `doc` in order: `Ok(word)` for a word to merge, as a
    /// string of the alphabet, `Err(id)` for an id that is never merged.
    pub fn each(&self, doc: &[u32], mut f: impl FnMut(Result<String, u32>)) {
        let mut start = 0;
        for (i, &id) in doc.iter().enumerate() {
            if id >= self.symbols {
                self.run(&doc[start..i], &mut f);
                f(Err(id));
                start = i + 1;
            } else if self.split_ids.binary_search(&id).is_ok() {
                self.run(&doc[start..i], &mut f);
                start = i;
            }
        }
        self.run(&doc[start..], &mut f);
    }

    /// The words of a run of mergeable ids.
    fn run(&self, run: &[u32], f: &mut impl FnMut(Result<String, u32>)) {
        if run.is_empty() {
            return;
        }
        if self.split != Split::Words {
            for piece in run.chunks(MAX_RUN) {
                f(Ok(self.alphabet.string(piece)));
            }
            return;
        }
        // Byte-level words, as GPT-2 cuts text; bytes that are not UTF-8 are a word each.
        let bytes: Vec<u8> = run.iter().map(|&b| b as u8).collect();
        for chunk in bytes.utf8_chunks() {
            text_words(chunk.valid(), WINDOW, &self.alphabet, &mut |word: &str| {
                for piece in pieces(word, MAX_WORD_BYTES) {
                    f(Ok(piece.to_owned()));
                }
            });
            for &b in chunk.invalid() {
                f(Ok(self.alphabet.byte_string(&[b])));
            }
        }
    }
}

/// Calls `f` on GPT-2's byte-level words of `text` (strings of the byte-level
/// `alphabet`), pre-tokenizing at most `window` bytes at a time. Each window's words
/// are kept up to the last that ends [`MARGIN`] bytes before its end, and the next
/// window starts there, so the words are those of the whole text; only a word longer
/// than the window is cut, at the window's end.
fn text_words(text: &str, window: usize, alphabet: &Alphabet, f: &mut impl FnMut(&str)) {
    // Every window holds at least one character.
    let window = window.max(4);
    let mut start = 0;
    while start < text.len() {
        let last = text.len() - start <= window;
        let end = if last { text.len() } else { text.floor_char_boundary(start + window) };
        let part = &text[start..end];
        let words = pre_tokenize(part, alphabet);
        let keep =
            if last { words.len() } else { words.iter().take_while(|(_, to)| to + MARGIN <= part.len()).count() };
        // A word that fills the window is cut at its end.
        let keep = keep.max(1).min(words.len());
        words[..keep].iter().for_each(|(word, _)| f(word));
        let advance = words[..keep].last().map_or(0, |&(_, to)| to);
        start += if advance == 0 { part.len() } else { advance };
    }
}

/// GPT-2's byte-level words of `text`, each with the byte offset where it ends.
fn pre_tokenize(text: &str, alphabet: &Alphabet) -> Vec<(String, usize)> {
    let mut split = PreTokenizedString::from(text);
    match ByteLevel::new(false, true, true).pre_tokenize(&mut split) {
        Ok(()) => split
            .get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(word, (_, end), _)| (word.to_owned(), end))
            .collect(),
        // The byte-level pre-tokenizer does not fail on text; should it, the text is
        // one word.
        Err(_) => vec![(alphabet.byte_string(text.as_bytes()), text.len())],
    }
}

/// `word` in consecutive pieces of at most `max` characters.
fn pieces(word: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = word;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = rest.char_indices().nth(max).map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn byte_words() -> Words {
        Words::new(Alphabet::new(true, 256).unwrap(), Split::Words, Vec::new(), 256)
    }

    /// The words of `text` read `window` bytes at a time.
    fn windowed(text: &str, window: usize) -> Vec<String> {
        let mut out = Vec::new();
        text_words(text, window, &Alphabet::new(true, 256).unwrap(), &mut |w: &str| out.push(w.to_owned()));
        out
    }

    /// Text of words, numbers, contractions, punctuation and whitespace of several widths.
    fn text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "a", "bc", "Zé", "世界", "7", "42", "'s", "'re", "'ll", "'", " ", "  ", "\n", "\n\n", "\t", "\u{3000}",
            "\u{a0}", ".", "==", "(", "_x", " y", "🙂",
        ]);
        prop::collection::vec(pieces, 0..200).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Windows give the words of the whole text, whatever their size, as long as no
        /// word fills one.
        #[test]
        fn windows_cut_text_into_the_words_of_the_whole_text(text in text(), window in 40usize..120) {
            let whole: Vec<String> = pre_tokenize(&text, &Alphabet::new(true, 256).unwrap()).into_iter().map(|(w, _)| w).collect();
            let longest = whole.iter().map(|w| w.chars().count()).max().unwrap_or(0);
            let ours = windowed(&text, window);
            prop_assert_eq!(ours.concat(), whole.concat());
            if longest + 2 * MARGIN <= window {
                prop_assert_eq!(ours, whole);
            }
        }

        /// Whatever the window, nothing is lost and no word is longer than it.
        #[test]
        fn windows_lose_nothing(text in text(), window in 1usize..40) {
            let ours = windowed(&text, window);
            let whole: String = pre_tokenize(&text, &Alphabet::new(true, 256).unwrap()).into_iter().map(|(w, _)| w).collect();
            prop_assert_eq!(ours.concat(), whole);
            prop_assert!(ours.iter().all(|w| !w.is_empty() && w.len() <= window.max(4) * 2));
        }
    }

    #[test]
    fn long_words_and_runs_are_cut_into_bounded_pieces_losslessly() {
        let words = byte_words();
        // One identifier, a run of spaces and a run of punctuation, each longer than a
        // window, and ordinary words around them.
        let mut doc: Vec<u8> = b"def f(x):\n    return x\n".to_vec();
        doc.extend(std::iter::repeat_n(b'a', 3 * WINDOW + 5));
        doc.extend(std::iter::repeat_n(b' ', WINDOW + 3));
        doc.extend(std::iter::repeat_n(b'=', 2 * MAX_WORD_BYTES + 1));
        doc.extend(b" x = 1\n".repeat(3 * WINDOW / 7));
        let ids: Vec<u32> = doc.iter().map(|&b| u32::from(b)).collect();
        let mut out = Vec::new();
        words.each(&ids, |w| out.push(w.unwrap()));
        assert!(out.iter().all(|w| !w.is_empty() && w.chars().count() <= MAX_WORD_BYTES));
        let back: Vec<u32> = out.iter().flat_map(|w| words.alphabet.ids(w).unwrap()).collect();
        assert_eq!(back, ids, "the words spell the document");
        assert_eq!(&out[..4], ["def", "Ġf", "(", "x"]);
        // The long runs come in whole pieces of the longest word.
        assert_eq!(
            out.iter().filter(|w| w.len() == MAX_WORD_BYTES && w.starts_with('a')).count(),
            3 * WINDOW / MAX_WORD_BYTES
        );
        // The last space joins the run of punctuation, as in GPT-2: "Ġ===...".
        let equals: Vec<usize> = out.iter().filter(|w| w.contains('=')).map(|w| w.chars().count()).collect();
        assert_eq!(equals[..3], [MAX_WORD_BYTES, MAX_WORD_BYTES, 2]);

        // Other splits cut runs of ids into pieces of at most MAX_RUN.
        let none = Words::new(Alphabet::new(false, 4).unwrap(), Split::None, Vec::new(), 4);
        let run: Vec<u32> = (0..2 * MAX_RUN as u32 + 7).map(|i| i % 4).chain([9]).chain([1, 2]).collect();
        let mut pieces = Vec::new();
        none.each(&run, |w| pieces.push(w.map(|w| none.alphabet.ids(&w).unwrap())));
        let lens: Vec<Result<usize, u32>> = pieces.iter().map(|p| p.as_ref().map(Vec::len).map_err(|&a| a)).collect();
        assert_eq!(lens, [Ok(MAX_RUN), Ok(MAX_RUN), Ok(7), Err(9), Ok(2)]);
    }
}
