//! Tokenized documents: a [`TokenStore`] is a list of documents, each a range of ids in
//! a shard on disk (read through a memory map) or in memory. Splits and mixtures are
//! new lists over the same shards, never copies of the ids.

mod folder;
mod shard;

pub use folder::{StoreBuilder, lock_folder, open_folder};
use shard::ShardWriter;
pub use shard::{Ids, Shard, Stamp};

use std::borrow::Cow;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// What can go wrong with a token store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file of the store could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A shard is not what it should be.
    #[error("token shard {}: {reason}", path.display())]
    Shard {
        /// The shard.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A store folder's record is unreadable.
    #[error("token store {}: {reason}", path.display())]
    Record {
        /// The record's file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    /// A [`StoreError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

/// Where a store's ids are.
#[derive(Debug)]
enum Chunk {
    /// Built in memory with [`TokenStore::push`].
    Owned(Vec<u32>),
    /// A shard on disk.
    Mapped(Shard),
}

impl Chunk {
    fn ids(&self, range: Range<usize>) -> Ids<'_> {
        match self {
            Self::Owned(ids) => Ids::U32(&ids[range]),
            Self::Mapped(shard) => shard.ids(range),
        }
    }
}

/// One document: a range of ids of one chunk.
#[derive(Clone, Debug)]
struct Span {
    chunk: usize,
    start: usize,
    end: usize,
}

/// Tokenized documents, in order. Cloning, slicing and selecting share the ids.
#[derive(Clone, Default)]
pub struct TokenStore {
    chunks: Vec<Arc<Chunk>>,
    docs: Vec<Span>,
    tokens: usize,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenStore({} documents, {} tokens)", self.docs.len(), self.tokens)
    }
}

/// Stores are equal when their documents are.
impl PartialEq for TokenStore {
    fn eq(&self, other: &Self) -> bool {
        self.num_docs() == other.num_docs()
            && self.tokens == other.tokens
            && (0..self.num_docs()).all(|i| self.doc(i) == other.doc(i))
    }
}

impl Eq for TokenStore {}

impl TokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The documents of `shards`, in order.
    fn from_shards(shards: Vec<Shard>) -> Self {
        let mut store = Self::new();
        for shard in shards {
            let chunk = store.chunks.len();
            for i in 0..shard.num_docs() {
                let r = shard.doc_range(i);
                store.docs.push(Span { chunk, start: r.start, end: r.end });
            }
            store.tokens += shard.num_tokens();
            store.chunks.push(Arc::new(Chunk::Mapped(shard)));
        }
        store
    }

    /// Appends one document, kept in memory.
    pub fn push(&mut self, document: &[u32]) {
        let owned = self.chunks.last_mut().and_then(Arc::get_mut).and_then(|c| match c {
            Chunk::Owned(ids) => Some(ids),
            Chunk::Mapped(_) => None,
        });
        let ids = match owned {
            Some(ids) => ids,
            None => {
                self.chunks.push(Arc::new(Chunk::Owned(Vec::new())));
                match self.chunks.last_mut().and_then(Arc::get_mut) {
                    Some(Chunk::Owned(ids)) => ids,
                    _ => unreachable!("a chunk just made is owned and not shared"),
                }
            }
        };
        let start = ids.len();
        ids.extend_from_slice(document);
        self.docs.push(Span { chunk: self.chunks.len() - 1, start, end: start + document.len() });
        self.tokens += document.len();
    }

    /// Number of documents.
    pub fn num_docs(&self) -> usize {
        self.docs.len()
    }

    /// Number of tokens over all documents.
    pub fn num_tokens(&self) -> usize {
        self.tokens
    }

    /// Whether the store has no token.
    pub fn is_empty(&self) -> bool {
        self.tokens == 0
    }

    /// Length of document `i`.
    pub fn doc_len(&self, i: usize) -> usize {
        self.docs[i].end - self.docs[i].start
    }

    /// The ids of document `i`, in their stored width (no copy).
    pub fn ids(&self, i: usize) -> Ids<'_> {
        let s = &self.docs[i];
        self.chunks[s.chunk].ids(s.start..s.end)
    }

    /// Document `i`: borrowed when stored as `u32`, else widened into a copy.
    pub fn doc(&self, i: usize) -> Cow<'_, [u32]> {
        match self.ids(i) {
            Ids::U32(ids) => Cow::Borrowed(ids),
            ids => {
                let mut out = Vec::with_capacity(ids.len());
                ids.extend_into(&mut out);
                Cow::Owned(out)
            }
        }
    }

    /// All documents in order.
    pub fn docs(&self) -> impl Iterator<Item = Cow<'_, [u32]>> {
        (0..self.num_docs()).map(|i| self.doc(i))
    }

    /// Parts of documents as a store of their own, sharing the ids: for each
    /// `(i, range)`, the tokens `range` of document `i`.
    pub fn select(&self, parts: impl IntoIterator<Item = (usize, Range<usize>)>) -> Self {
        let mut out = Self { chunks: self.chunks.clone(), docs: Vec::new(), tokens: 0 };
        for (i, r) in parts {
            let s = &self.docs[i];
            assert!(r.end <= s.end - s.start, "tokens {r:?} of a document of {}", s.end - s.start);
            out.docs.push(Span { chunk: s.chunk, start: s.start + r.start, end: s.start + r.end });
            out.tokens += r.len();
        }
        out
    }

    /// Documents `docs` as a store of their own, sharing the ids.
    pub fn slice(&self, docs: Range<usize>) -> Self {
        self.select(docs.map(|i| (i, 0..self.doc_len(i))))
    }

    /// At most `max_tokens` of the store's tokens, sharing the ids: all of it when it is
    /// no larger, else whole documents drawn in an order shuffled by `seed`, the last
    /// one cut to the budget, kept in the store's order.
    pub fn sample(&self, max_tokens: usize, seed: u64) -> Self {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        if self.tokens <= max_tokens {
            return self.clone();
        }
        let mut order: Vec<usize> = (0..self.num_docs()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let (mut parts, mut left) = (Vec::new(), max_tokens);
        for i in order {
            if left == 0 {
                break;
            }
            let take = self.doc_len(i).min(left);
            if take > 0 {
                parts.push((i, 0..take));
                left -= take;
            }
        }
        parts.sort_by_key(|(i, _)| *i);
        self.select(parts)
    }

    /// The documents of `stores`, one store's after the other's, sharing the ids.
    pub fn concat(stores: impl IntoIterator<Item = Self>) -> Self {
        let mut out = Self::new();
        for store in stores {
            let base = out.chunks.len();
            out.docs.extend(store.docs.into_iter().map(|s| Span { chunk: base + s.chunk, ..s }));
            out.chunks.extend(store.chunks);
            out.tokens += store.tokens;
        }
        out
    }

    /// A blake3 (hex) of what the store holds: the documents' ids, named by their
    /// shards' checksums where they lie in shards (so that it costs no reading), else
    /// hashed.
    pub fn fingerprint(&self) -> String {
        let chunks: Vec<String> = self
            .chunks
            .iter()
            .map(|c| match &**c {
                Chunk::Mapped(shard) => shard.checksum().to_owned(),
                Chunk::Owned(ids) => blake3::hash(bytemuck::cast_slice(ids)).to_hex().to_string(),
            })
            .collect();
        let mut hasher = blake3::Hasher::new();
        for s in &self.docs {
            hasher.update(chunks[s.chunk].as_bytes());
            hasher.update(&(s.start as u64).to_le_bytes());
            hasher.update(&(s.end as u64).to_le_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }

    /// Drops the pages of its shards that this process has read from its resident
    /// memory (the page cache keeps them): for a pass over a store larger than memory,
    /// now and then, so that the process's memory stays flat.
    pub fn release_pages(&self) {
        for chunk in &self.chunks {
            if let Chunk::Mapped(shard) = &**chunk {
                shard.release_pages();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_and_concatenations_share_and_keep_the_documents() {
        let mut store = TokenStore::new();
        store.push(&[1, 2, 3]);
        store.push(&[]);
        store.push(&[u32::MAX]);
        assert_eq!((store.num_docs(), store.num_tokens()), (3, 4));
        assert_eq!(&*store.doc(2), &[u32::MAX]);
        let tail = store.select([(0, 1..3), (2, 0..1)]);
        assert_eq!(tail.docs().collect::<Vec<_>>(), [vec![2, 3], vec![u32::MAX]]);
        let both = TokenStore::concat([store.slice(1..3), tail.clone()]);
        assert_eq!(both.num_docs(), 4);
        assert_eq!(&*both.doc(3), &[u32::MAX]);
        assert_eq!(both.num_tokens(), 4);
        // Pushing onto a store whose ids are shared leaves the others as they were.
        let mut grown = tail.clone();
        grown.push(&[9]);
        assert_eq!(tail.num_docs(), 2);
        assert_eq!(&*grown.doc(2), &[9]);
        assert_ne!(store.fingerprint(), tail.fingerprint());
        let sample = store.sample(2, 7);
        assert_eq!(sample.num_tokens(), 2);
        assert!(sample.docs().all(|d| [&[1, 2][..], &[1], &[u32::MAX]].contains(&&*d)), "{sample:?}");
        assert_eq!(store.sample(4, 7), store);
        assert_eq!(tail.fingerprint(), store.select([(0, 1..3), (2, 0..1)]).fingerprint());
    }
}
