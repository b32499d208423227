//! Random training windows of `block + 1` tokens drawn from a split.

use crate::config::{DataConfig, Windows};
use crate::error::DataError;
use crate::store::TokenStore;
use autoreg_tokens::{FrameLayout, Pipeline};
use rand::Rng;

/// How windows are cut from a split: `[data] windows`, resolved against the tokenizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// [`Windows::Stream`].
    Stream,
    /// [`Windows::Documents`].
    Documents,
    /// [`Windows::Frames`], with the tokenizer's frames and `data.context_frames`.
    Frames(FrameLayout),
}

impl Cut {
    /// The cut that `config` asks for under `tokenizer`; the reason names the key when
    /// the tokenizer has no frames to cut by.
    pub fn resolve(config: &DataConfig, tokenizer: Pipeline<'_>) -> Result<Self, String> {
        match config.windows {
            Windows::Stream => Ok(Self::Stream),
            Windows::Documents => Ok(Self::Documents),
            Windows::Frames => {
                let Some((token, len)) = tokenizer.frames() else {
                    return Err(format!(
                        "data.windows = \"frames\" needs a tokenizer whose documents are frames of equal length \
                         (and no bpe over them), which this {} tokenizer's are not",
                        tokenizer.kind()
                    ));
                };
                let context = config.context_frames.ok_or("data.windows = \"frames\" needs data.context_frames")?;
                Ok(Self::Frames(FrameLayout { token, len, context }))
            }
        }
    }

    /// The frames, with [`Cut::Frames`].
    pub fn frames(&self) -> Option<FrameLayout> {
        match self {
            Self::Frames(layout) => Some(*layout),
            _ => None,
        }
    }
}

/// Draws random windows of at most `block + 1` tokens from one split: the inputs of a
/// training example and, shifted by one, its targets.
///
/// With [`Cut::Stream`] every window is full. With [`Cut::Documents`] a window
/// lies inside one document and starts with the document's prefix (BOS, class); a
/// document shorter than a window gives a short one, which the caller pads up to
/// [`WindowSampler::window_len`] (inputs with the tokenizer's PAD, targets ignored).
/// With [`Cut::Frames`] a window starts at a document's start or at the start of a
/// frame that has `context` whole frames after it, and holds `context + 1` frames and
/// the next token: the contexts that sampling slides through.
#[derive(Clone, Debug)]
pub struct WindowSampler {
    /// The split's documents.
    store: TokenStore,
    /// With [`Cut::Stream`]: where each document ends in the documents laid end to end.
    ends: Vec<usize>,
    /// With [`Cut::Documents`], per document of two or more tokens: its index in
    /// `store` and its prefix length. With [`Cut::Frames`], per window: its document's
    /// index and its start.
    docs: Vec<(usize, usize)>,
    /// With [`Cut::Documents`]: cumulative count of window starts per entry of `docs`.
    starts: Vec<usize>,
    windows: Cut,
    block: usize,
}

impl WindowSampler {
    /// A sampler over `store`, which it keeps, for a model of `block` positions.
    /// `prefix_len` gives the length of a document's prefix, kept in front of its
    /// windows with [`Cut::Documents`] (at most `block`). `name` ("training",
    /// "validation") appears in the error when the split is too short for one window.
    pub fn new(
        store: TokenStore,
        block: usize,
        windows: Cut,
        prefix_len: impl Fn(&[u32]) -> usize,
        name: &str,
    ) -> Result<Self, DataError> {
        let (mut docs, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        match windows {
            Cut::Stream => {
                let mut total = 0;
                for i in 0..store.num_docs() {
                    total += store.doc_len(i);
                    ends.push(total);
                }
            }
            Cut::Documents => {
                let mut total = 0;
                for (i, doc) in store.docs().enumerate().filter(|(_, d)| d.len() >= 2) {
                    docs.push((i, prefix_len(&doc).min(block)));
                    total += doc.len().saturating_sub(block).max(1);
                    starts.push(total);
                }
            }
            Cut::Frames(layout) => {
                layout.check_block(block).map_err(DataError::Config)?;
                for (i, doc) in store.docs().enumerate().filter(|(_, d)| d.len() >= 2) {
                    docs.push((i, 0));
                    let full = |&s: &usize| s > 0 && s + layout.span() < doc.len();
                    docs.extend(layout.starts(&doc).into_iter().skip(1).filter(full).map(|s| (i, s)));
                }
            }
        }
        let too_short = match windows {
            Cut::Stream => store.num_tokens() < block + 1,
            Cut::Documents | Cut::Frames(_) => docs.is_empty(),
        };
        if too_short {
            return Err(DataError::Unusable(format!(
                "the {name} split has {} tokens, fewer than model.block_size + 1 = {}: \
                 add data or lower model.block_size",
                store.num_tokens(),
                block + 1
            )));
        }
        // Reading every document for its prefix or frames leaves no pages resident.
        store.release_pages();
        Ok(Self { store, ends, docs, starts, windows, block })
    }

    /// Positions of the model: a full window holds one token more.
    pub fn block(&self) -> usize {
        self.block
    }

    /// Tokens in a full window, `block + 1`: shorter windows are padded up to it.
    pub fn window_len(&self) -> usize {
        self.block + 1
    }

    /// Number of tokens in the split.
    pub fn len(&self) -> usize {
        self.store.num_tokens()
    }

    /// Whether the split is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.store.num_tokens() == 0
    }

    /// Replaces the contents of `window` with a random window: [`Self::window_len`]
    /// tokens, or fewer from a short document (see [`WindowSampler`]). Returns whether
    /// the window runs on from its first document's start, with no ids skipped.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R, window: &mut Vec<u32>) -> bool {
        let t = self.block;
        window.clear();
        match self.windows {
            Cut::Stream => {
                // A window of the documents laid end to end, copied document by document.
                let mut at = rng.random_range(0..=self.store.num_tokens() - t - 1);
                let mut d = self.ends.partition_point(|&e| e <= at);
                let from_start = at == if d == 0 { 0 } else { self.ends[d - 1] };
                while window.len() < t + 1 {
                    let doc_start = if d == 0 { 0 } else { self.ends[d - 1] };
                    let ids = self.store.ids(d);
                    let take = (ids.len() - (at - doc_start)).min(t + 1 - window.len());
                    ids.slice(at - doc_start..at - doc_start + take).extend_into(window);
                    at += take;
                    d += 1;
                }
                from_start
            }
            Cut::Frames(layout) => {
                let (d, start) = self.docs[rng.random_range(0..self.docs.len())];
                let ids = self.store.ids(d);
                ids.slice(start..(start + layout.span() + 1).min(ids.len())).extend_into(window);
                start == 0
            }
            Cut::Documents => {
                // A document chosen in proportion to its window starts, then a start.
                let total = self.starts.last().copied().unwrap_or(1);
                let draw = rng.random_range(0..total);
                let i = self.starts.partition_point(|&c| c <= draw);
                let (d, prefix) = self.docs[i];
                let ids = self.store.ids(d);
                let len = ids.len();
                let offset = draw - if i == 0 { 0 } else { self.starts[i - 1] };
                if offset == 0 {
                    ids.slice(0..len.min(t + 1)).extend_into(window);
                } else {
                    ids.slice(0..prefix).extend_into(window);
                    ids.slice(offset + prefix..(offset + t + 1).min(len)).extend_into(window);
                }
                offset == 0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// A sampler whose documents' prefix is their first token.
    fn sampler(store: TokenStore, block: usize, windows: Cut) -> Result<WindowSampler, DataError> {
        WindowSampler::new(store, block, windows, |_| 1, "validation")
    }

    #[test]
    fn stream_windows_are_full_slices_of_the_stream() {
        let mut store = TokenStore::new();
        store.push(&(0..30).collect::<Vec<u32>>());
        store.push(&(30..50).collect::<Vec<u32>>());
        let s = sampler(store, 8, Cut::Stream).unwrap();
        assert_eq!((s.block(), s.window_len(), s.len()), (8, 9, 50));
        let (mut rng, mut window) = (StdRng::seed_from_u64(0), vec![7; 3]);
        for _ in 0..100 {
            s.draw(&mut rng, &mut window);
            assert_eq!(window.len(), 9);
            // Across documents too: the stream counts up.
            assert!(window.windows(2).all(|w| w[1] == w[0] + 1), "{window:?}");
        }
    }

    #[test]
    fn same_seed_same_windows() {
        let mut store = TokenStore::new();
        store.push(&(0..500).collect::<Vec<u32>>());
        let s = sampler(store, 8, Cut::Stream).unwrap();
        let draws = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut window = Vec::new();
            (0..4)
                .map(|_| {
                    s.draw(&mut rng, &mut window);
                    window.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
    }

    #[test]
    fn a_split_shorter_than_a_window_is_an_error() {
        let mut store = TokenStore::new();
        store.push(&[1, 2, 3]);
        let err = sampler(store.clone(), 8, Cut::Stream).unwrap_err().to_string();
        assert!(err.contains("the validation split has 3 tokens, fewer than model.block_size + 1 = 9"), "{err}");
        // One document of two tokens or more is enough for document windows.
        assert!(sampler(store, 8, Cut::Documents).is_ok());
        let mut single = TokenStore::new();
        single.push(&[1]);
        assert!(sampler(single, 8, Cut::Documents).is_err());
    }

    #[test]
    fn document_windows_keep_the_prefix_and_short_documents_give_short_windows() {
        let mut store = TokenStore::new();
        store.push(&(0..40).collect::<Vec<u32>>());
        store.push(&[100, 101, 102]);
        let s = sampler(store, 8, Cut::Documents).unwrap();
        let (mut rng, mut window) = (StdRng::seed_from_u64(1), Vec::new());
        let (mut short, mut inside) = (0, 0);
        for _ in 0..64 {
            s.draw(&mut rng, &mut window);
            if window[0] == 100 {
                assert_eq!(window, [100, 101, 102]);
                short += 1;
            } else {
                assert_eq!((window.len(), window[0]), (9, 0), "the prefix is kept: {window:?}");
                if window[1] != 1 {
                    inside += 1;
                }
                assert!(window[1..].windows(2).all(|w| w[1] == w[0] + 1), "{window:?}");
            }
        }
        assert!(short > 0 && inside > 0, "both documents and inner windows are drawn");
    }

    #[test]
    fn frame_windows_start_at_frames_and_hold_the_context() {
        // BOS 8, frames of 3 (token 9, two pixels), 5 frames, EOS 7.
        let doc: Vec<u32> = [8].into_iter().chain((0..5).flat_map(|f| [9, f, f])).chain([7]).collect();
        let mut store = TokenStore::new();
        store.push(&doc);
        let layout = FrameLayout { token: 9, len: 3, context: 1 };
        assert!(sampler(store.clone(), 5, Cut::Frames(layout)).unwrap_err().to_string().contains("block_size 5"));
        let s = sampler(store, 6, Cut::Frames(layout)).unwrap();
        let (mut rng, mut window) = (StdRng::seed_from_u64(2), Vec::new());
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            s.draw(&mut rng, &mut window);
            assert_eq!(window.len(), 7, "{window:?}");
            assert!(window[0] == 8 || window[0] == 9, "{window:?}");
            seen.insert(window[..2].to_vec());
        }
        // The document's start, then frames 1 to 3, which have a whole frame after them.
        let starts: Vec<Vec<u32>> = vec![vec![8, 9], vec![9, 1], vec![9, 2], vec![9, 3]];
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), starts);
    }
}
