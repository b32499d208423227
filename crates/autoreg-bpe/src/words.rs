//! Cutting a document of base ids into the words that merges stay inside.

use crate::alphabet::Alphabet;
use autoreg_tokens::Split;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

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
            f(Ok(self.alphabet.string(run)));
            return;
        }
        // Byte-level words, as GPT-2 cuts text; bytes that are not UTF-8 are a word each.
        let bytes: Vec<u8> = run.iter().map(|&b| b as u8).collect();
        for chunk in bytes.utf8_chunks() {
            if !chunk.valid().is_empty() {
                let mut text = PreTokenizedString::from(chunk.valid());
                match ByteLevel::new(false, true, true).pre_tokenize(&mut text) {
                    Ok(()) => {
                        for (word, _, _) in text.get_splits(OffsetReferential::Original, OffsetType::Byte) {
                            f(Ok(word.to_owned()));
                        }
                    }
                    // The byte-level pre-tokenizer does not fail on text; should it, the
                    // text is one word.
                    Err(_) => f(Ok(self.byte_string(chunk.valid().as_bytes()))),
                }
            }
            for &b in chunk.invalid() {
                f(Ok(self.byte_string(&[b])));
            }
        }
    }

    fn byte_string(&self, bytes: &[u8]) -> String {
        self.alphabet.string(&bytes.iter().map(|&b| u32::from(b)).collect::<Vec<_>>())
    }
}
