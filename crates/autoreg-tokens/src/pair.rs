//! A test id model that merges one pair of base ids.

use crate::IdModel;

/// Merges every `first second` into `merged`, the id after the base ids `0..merged`.
pub(crate) struct Pair {
    pub first: u32,
    pub second: u32,
    pub merged: u32,
}

impl IdModel for Pair {
    fn vocab_size(&self) -> usize {
        self.merged as usize + 1
    }
    fn is_identity(&self) -> bool {
        false
    }
    fn merge(&self, base: &[u32]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < base.len() {
            let pair = base[i..].starts_with(&[self.first, self.second]);
            out.push(if pair { self.merged } else { base[i] });
            i += if pair { 2 } else { 1 };
        }
        out
    }
    fn expand(&self, id: u32, out: &mut Vec<u32>) -> bool {
        match id {
            i if i < self.merged => out.push(i),
            i if i == self.merged => out.extend([self.first, self.second]),
            _ => return false,
        }
        true
    }
}
