use crate::{TokenError, write_atomic};
use std::path::Path;

/// Magic bytes and format version at the start of a token store file.
const MAGIC: &[u8; 8] = b"ARTOKS01";

/// Tokenized documents, stored back to back with their offsets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenStore {
    tokens: Vec<u32>,
    /// `offsets[i]..offsets[i + 1]` is document `i`; starts with 0.
    offsets: Vec<usize>,
}

impl TokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self { tokens: Vec::new(), offsets: vec![0] }
    }

    /// Appends one document.
    pub fn push(&mut self, document: &[u32]) {
        self.tokens.extend_from_slice(document);
        self.offsets.push(self.tokens.len());
    }

    /// Number of documents.
    pub fn num_docs(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of tokens over all documents.
    pub fn num_tokens(&self) -> usize {
        self.tokens.len()
    }

    /// Document `i`.
    pub fn doc(&self, i: usize) -> &[u32] {
        &self.tokens[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Documents `docs` as a store of their own.
    pub fn slice(&self, docs: std::ops::Range<usize>) -> Self {
        let mut out = Self::new();
        docs.for_each(|i| out.push(self.doc(i)));
        out
    }

    /// Every token, the documents end to end.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// All documents in order.
    pub fn docs(&self) -> impl Iterator<Item = &[u32]> {
        (0..self.num_docs()).map(|i| self.doc(i))
    }

    /// Saves the store atomically: magic, document count, token count (u64 LE), then
    /// the offsets (u64 LE) and the tokens (u32 LE).
    pub fn save(&self, path: &Path) -> Result<(), TokenError> {
        let mut bytes = Vec::with_capacity(24 + 8 * self.offsets.len() + 4 * self.tokens.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(self.num_docs() as u64).to_le_bytes());
        bytes.extend_from_slice(&(self.tokens.len() as u64).to_le_bytes());
        for &o in &self.offsets {
            bytes.extend_from_slice(&(o as u64).to_le_bytes());
        }
        for &t in &self.tokens {
            bytes.extend_from_slice(&t.to_le_bytes());
        }
        write_atomic(path, &bytes)
    }

    /// Loads a store written by [`TokenStore::save`], checking its structure.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        let bytes = std::fs::read(path).map_err(|e| TokenError::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|reason| TokenError::format(path.display().to_string(), reason))
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let rest = bytes.strip_prefix(MAGIC).ok_or("not an autoreg token store")?;
        let (header, rest) = rest.split_at_checked(16).ok_or("truncated header")?;
        let num_docs = u64_at(header, 0) as usize;
        let num_tokens = u64_at(header, 8) as usize;
        let expected = num_docs
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .and_then(|n| n.checked_add(num_tokens.checked_mul(4)?))
            .ok_or("corrupt header")?;
        if rest.len() != expected {
            return Err(format!("expected {expected} bytes after the header, found {}", rest.len()));
        }
        let (offset_bytes, token_bytes) = rest.split_at(8 * (num_docs + 1));
        let offsets: Vec<usize> = (0..=num_docs).map(|i| u64_at(offset_bytes, 8 * i) as usize).collect();
        let ordered = offsets.first() == Some(&0)
            && offsets.last() == Some(&num_tokens)
            && offsets.windows(2).all(|w| w[0] <= w[1]);
        if !ordered {
            return Err("document offsets out of order".into());
        }
        let tokens = token_bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok(Self { tokens, offsets })
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_file() {
        let mut store = TokenStore::new();
        store.push(&[1, 2, 3]);
        store.push(&[]);
        store.push(&[u32::MAX]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.bin");
        store.save(&path).unwrap();
        let back = TokenStore::load(&path).unwrap();
        assert_eq!(back, store);
        assert_eq!(back.num_docs(), 3);
        assert_eq!(back.doc(2), &[u32::MAX]);
    }

    #[test]
    fn rejects_truncated_and_foreign_files() {
        let mut store = TokenStore::new();
        store.push(&[7; 10]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.bin");
        store.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(TokenStore::load(&path).unwrap_err().to_string().contains("expected"));
        std::fs::write(&path, b"hello").unwrap();
        assert!(TokenStore::load(&path).unwrap_err().to_string().contains("not an autoreg"));
    }
}
