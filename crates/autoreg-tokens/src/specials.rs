//! The special tokens every modality reserves.

use serde::{Deserialize, Serialize};

/// Ids of the special tokens that every modality reserves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Specials {
    /// Begin of sequence: every document starts with it, and sampling starts from it.
    pub bos: u32,
    /// End of sequence: every document ends with it, and sampling stops at it.
    pub eos: u32,
    /// Padding, for batches of unequal length.
    pub pad: u32,
}

impl Specials {
    /// How many specials there are.
    pub const COUNT: usize = 3;

    /// The size of a vocabulary of `n` ordinary tokens and the specials after them.
    pub const fn vocab_after(n: usize) -> usize {
        n + Self::COUNT
    }

    /// Three specials placed right after `n` ordinary tokens: `n`, `n + 1`, `n + 2`.
    pub fn after(n: u32) -> Self {
        Self { bos: n, eos: n + 1, pad: n + 2 }
    }

    /// Whether `token` is one of the specials.
    pub fn contains(&self, token: u32) -> bool {
        token == self.bos || token == self.eos || token == self.pad
    }

    /// The name of `token` if it is a special (`<bos>`, `<eos>`, `<pad>`).
    pub fn name(&self, token: u32) -> Option<&'static str> {
        match token {
            t if t == self.bos => Some("<bos>"),
            t if t == self.eos => Some("<eos>"),
            t if t == self.pad => Some("<pad>"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_after_n_are_named() {
        let s = Specials::after(10);
        assert_eq!((s.bos, s.eos, s.pad), (10, 11, 12));
        assert_eq!(s.name(11), Some("<eos>"));
        assert_eq!(s.name(9), None);
        assert!(s.contains(12) && !s.contains(0));
        assert_eq!(Specials::vocab_after(10), 13);
    }
}
