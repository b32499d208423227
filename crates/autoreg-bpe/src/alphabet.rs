//! Base ids as Unicode scalars, so that Hugging Face's BPE, which merges strings, can
//! merge them.

use autoreg_tokens::TokenError;
use std::collections::HashMap;

/// The first scalar of non-byte symbols: Supplementary Private Use Area-A, so that no
/// symbol is a surrogate (U+D800-DFFF) or a character of a special token's name.
const FIRST: u32 = 0xF0000;

/// The most non-byte symbols: up to U+10FFFD, the last scalar a BPE string may hold.
const MAX_SYMBOLS: u32 = 0x10FFFD - FIRST + 1;

/// The scalar of each mergeable base id, and back.
#[derive(Clone, Debug)]
pub(crate) struct Alphabet {
    to_char: Vec<char>,
    from_char: HashMap<char, u32>,
}

impl Alphabet {
    /// The alphabet of `symbols` base ids: GPT-2's byte-level one when they are bytes.
    pub fn new(bytes: bool, symbols: u32) -> Result<Self, TokenError> {
        let to_char: Vec<char> = if bytes {
            gpt2_bytes()
        } else if symbols <= MAX_SYMBOLS {
            (FIRST..FIRST + symbols).filter_map(char::from_u32).collect()
        } else {
            return Err(TokenError::Fit {
                kind: "bpe",
                reason: format!("{symbols} symbols are more than the {MAX_SYMBOLS} a BPE stage can merge"),
            });
        };
        let from_char = to_char.iter().enumerate().map(|(id, &c)| (c, id as u32)).collect();
        Ok(Self { to_char, from_char })
    }

    /// Every scalar of the alphabet.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        self.to_char.iter().copied()
    }

    /// The string of a run of mergeable ids.
    pub fn string(&self, ids: &[u32]) -> String {
        ids.iter().map(|&id| self.to_char[id as usize]).collect()
    }

    /// The string of `bytes`, each byte the symbol of its value.
    pub fn byte_string(&self, bytes: &[u8]) -> String {
        self.string(&bytes.iter().map(|&b| u32::from(b)).collect::<Vec<_>>())
    }

    /// The ids a string of the alphabet spells; `None` if it holds another scalar.
    pub fn ids(&self, string: &str) -> Option<Vec<u32>> {
        string.chars().map(|c| self.from_char.get(&c).copied()).collect()
    }
}

/// GPT-2's byte-to-unicode table (`bytes_to_unicode` in its `encoder.py`), the alphabet
/// of Hugging Face's byte-level pre-tokenizer: printable bytes stand for themselves, the
/// others for U+0100 on. The `tokenizers` crate keeps its copy private, so it is
/// written out here; a test checks it against the crate's alphabet.
fn gpt2_bytes() -> Vec<char> {
    let printable = |b: u32| (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    let mut next = 0x100;
    (0..256u32)
        .map(|b| {
            let scalar = if printable(b) {
                b
            } else {
                next += 1;
                next - 1
            };
            char::from_u32(scalar).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;

    #[test]
    fn byte_alphabet_is_the_byte_level_pre_tokenizers() {
        let ours: std::collections::HashSet<char> = gpt2_bytes().into_iter().collect();
        let theirs: std::collections::HashSet<char> = ByteLevel::alphabet().into_iter().collect();
        assert_eq!(ours.len(), 256);
        assert_eq!(ours, theirs);
        assert_eq!(gpt2_bytes()[b' ' as usize], 'Ġ');
    }

    #[test]
    fn symbols_avoid_surrogates_and_round_trip() {
        let a = Alphabet::new(false, 70_000).unwrap();
        assert!(a.chars().all(|c| !(0xD800..=0xDFFF).contains(&(c as u32))));
        let ids = vec![0, 5, 69_999];
        assert_eq!(a.ids(&a.string(&ids)), Some(ids));
        assert_eq!(a.ids("a"), None);
        assert!(Alphabet::new(false, MAX_SYMBOLS + 1).is_err());
    }
}
