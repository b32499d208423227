//! What the model sees of the context at each step: the window that slides past
//! `block_size`, and the frames that slide it by whole frames.

use super::backend::Steps;
use autoreg_tokens::{FrameLayout, Grammar};

/// The frames of the rows being sampled.
pub(super) struct Frames {
    pub(super) layout: FrameLayout,
    /// Where the first frame starts.
    pub(super) first: usize,
}

impl Frames {
    /// Whether a frame starts at position `at`.
    pub(super) fn starts_at(&self, at: usize) -> bool {
        at >= self.first && (at - self.first).is_multiple_of(self.layout.len)
    }

    /// The earliest frame start `s` with `len - s <= limit`, before `len`: where a
    /// context of at most `limit` tokens that starts at a frame begins.
    fn start_within(&self, len: usize, limit: usize) -> Option<usize> {
        let need = len.saturating_sub(limit).max(self.first);
        let start = self.first + (need - self.first).div_ceil(self.layout.len) * self.layout.len;
        (start < len).then_some(start)
    }

    /// Masks `logits` (V,) for a token at a frame start (`start`: only the frame token
    /// or `eos`) or inside a frame (neither).
    pub(super) fn constrain(&self, logits: &mut [f32], start: bool, eos: Option<u32>) {
        let special = |t: usize| t == self.layout.token as usize || eos.is_some_and(|e| e as usize == t);
        logits.iter_mut().enumerate().filter(|&(t, _)| special(t) != start).for_each(|(_, v)| *v = f32::NEG_INFINITY);
    }
}

/// What the model sees of the context at each step, and what it may draw.
pub(super) struct Window<'g> {
    pub(super) block: usize,
    /// Rotary positions: a full cache drops its oldest position.
    pub(super) rolling: bool,
    /// `false` recomputes the last window at every step.
    pub(super) kv_cache: bool,
    /// Frames slide the context by whole frames, rebuilding the cache.
    pub(super) frames: Option<Frames>,
    /// Masks what may not follow a row.
    pub(super) grammar: Option<&'g dyn Grammar>,
    /// Ids never drawn.
    pub(super) never: &'g [u32],
}

impl Window<'_> {
    /// Which tokens of rows of `len` to feed next, `(start, count)`, after clearing or
    /// shortening the cache as needed.
    pub(super) fn next_feed(&self, steps: &mut dyn Steps, len: usize) -> (usize, usize) {
        let seen = steps.cached();
        let limit = self.frames.as_ref().map_or(self.block, |f| f.layout.span().min(self.block));
        // Training windows of frames start at a frame: once one has started, what
        // comes before the first (BOS, a class) is out of the context.
        let cache_start = len.saturating_sub(seen + 1);
        let in_frames = self.frames.as_ref().is_none_or(|f| cache_start >= f.first || f.first >= len);
        if self.kv_cache && seen > 0 && seen < limit && seen < len && in_frames {
            return (len - 1, 1);
        }
        if let Some(start) = self.frames.as_ref().and_then(|f| f.start_within(len, limit)) {
            steps.clear();
            return (start, len - start);
        }
        if self.kv_cache && seen > 0 && self.rolling {
            steps.drop_oldest();
            return (len - 1, 1);
        }
        // A cold cache sees the last whole window; a full one keeps its last 3/4.
        let keep = if seen == 0 || !self.kv_cache { len.min(self.block) } else { self.block - self.block / 4 };
        steps.clear();
        (len - keep, keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::testing::{model, opts};
    use crate::sampler::{Decoder, SampleError, SampleOptions, Sampler};
    use crate::{Gpt, ModelConfig, Positions, Readout};
    use tch::{Device, Kind, nn};

    #[test]
    fn window_slides_past_block_size() {
        let (_vs, gpt) = model(8, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let o = SampleOptions { max_tokens: 30, ..opts(1, true) };
        let out = s.generate(&[1], None, None, &o, &mut || {}).unwrap();
        assert!(out.iter().all(|r| r.len() == 31 && r.iter().all(|&t| t < 13)));
    }

    #[test]
    fn a_prompt_longer_than_the_context_is_kept_whole_and_seen_by_its_last_window() {
        let (_vs, gpt) = model(4, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let greedy = SampleOptions { temperature: 0.0, max_tokens: 1, ..opts(1, true) };
        let long = s.generate(&prompt, None, None, &greedy, &mut || {}).unwrap();
        assert!(long.iter().all(|r| r.len() == 10 && r[..9] == prompt), "{long:?}");
        // The first new token depends on the last window only, with or without the cache.
        let tail = s.generate(&prompt[5..], None, None, &greedy, &mut || {}).unwrap();
        let full = s.generate(&prompt, None, None, &SampleOptions { kv_cache: false, ..greedy }, &mut || {}).unwrap();
        assert_eq!((long[0][9], full[0][9]), (tail[0][4], tail[0][4]));
    }

    /// A cache that only counts: it remembers where its context starts in the row.
    struct Counting {
        from: usize,
        len: usize,
    }

    impl Steps for Counting {
        fn cached(&self) -> usize {
            self.len
        }
        fn clear(&mut self) {
            *self = Self { from: 0, len: 0 };
        }
        fn drop_oldest(&mut self) {
            (self.from, self.len) = (self.from + 1, self.len - 1);
        }
        fn drop_newest(&mut self, n: usize) {
            self.len -= n;
        }
        fn feed_for(&mut self, _tokens: &[u32], t: usize, _: Readout) -> Result<Vec<f32>, SampleError> {
            self.len += t;
            Ok(Vec::new())
        }
    }

    #[test]
    fn frame_contexts_start_at_frames_and_hold_the_context_and_the_current_frame() {
        // BOS, then frames of 5 from position 1; 2 frames of context: 15 tokens at most.
        let layout = FrameLayout { token: 9, len: 5, context: 2 };
        for rolling in [false, true] {
            let frames = Some(Frames { layout, first: 1 });
            let window = Window { block: 16, rolling, kv_cache: true, frames, grammar: None, never: &[] };
            let mut steps = Counting { from: 0, len: 0 };
            let mut fed = vec![0; 200];
            for (len, slot) in fed.iter_mut().enumerate().skip(1) {
                let (start, count) = window.next_feed(&mut steps, len);
                if steps.len == 0 {
                    steps.from = start;
                }
                steps.feed(&[], count).unwrap();
                *slot = count;
                assert_eq!(steps.from + steps.len, len, "the cache ends at the row's end");
                assert!(steps.len <= 15, "len {len}: {} cached", steps.len);
                assert!(steps.from == 0 || (steps.from - 1).is_multiple_of(5), "len {len}: starts at {}", steps.from);
                // Once a frame has started, the context starts at a frame, as training
                // windows of frames do: BOS is out of it.
                assert_eq!(steps.from == 0, len == 1, "len {len}: starts at {}", steps.from);
                // At a frame's first pixel the context is that frame and the two before it.
                if len > 16 && (len - 2) % 5 == 0 {
                    assert_eq!(steps.len, 11, "len {len}");
                }
            }
            // One token a step, and the two frames kept re-read at each new frame, rotary
            // or not: ten frames cost the same at any length.
            let cost = |from: usize| fed[from..from + 50].iter().sum::<usize>();
            assert_eq!(cost(100), cost(150), "rolling {rolling}");
            assert_eq!(cost(100), 50 + 10 * 10, "rolling {rolling}");
        }
    }

    #[test]
    fn frame_tokens_come_at_frame_starts_only_and_the_cache_matches_recompute() {
        let layout = FrameLayout { token: 12, len: 4, context: 1 };
        for (positions, layers) in [(Positions::Learned, 2), (Positions::Rope, 2)] {
            tch::manual_seed(3);
            let vs = nn::VarStore::new(Device::Cpu);
            let config =
                ModelConfig { n_layer: layers, n_head: 2, n_embd: 16, block_size: 8, positions, ..Default::default() };
            let gpt = Gpt::new(&vs.root(), &config, 14, Kind::Float);
            let s = Sampler::new(&gpt, Device::Cpu);
            let o = SampleOptions { num: 3, max_tokens: 60, min_tokens: 60, seed: 4, ..Default::default() };
            let prompt = [11, 12, 0, 1, 2];
            let out = s.generate(&prompt, Some(13), Some(layout), &o, &mut || {}).unwrap();
            for row in &out {
                assert_eq!(row.len(), 65);
                for (i, &t) in row.iter().enumerate().skip(1) {
                    assert_eq!(t == 12, (i - 1) % 4 == 0, "{positions:?}: token {t} at {i}: {row:?}");
                    assert_ne!(t, 13, "no EOS before min_tokens");
                }
            }
            for decoder in [Decoder::Native, Decoder::Libtorch] {
                let recompute = SampleOptions { kv_cache: false, decoder, ..o.clone() };
                let again = s.generate(&prompt, Some(13), Some(layout), &recompute, &mut || {}).unwrap();
                assert_eq!(again, out, "{positions:?} {decoder}");
            }
            // EOS may end a sample at a frame start only.
            let free = SampleOptions { min_tokens: 0, max_tokens: 400, num: 8, ..o.clone() };
            for row in s.generate(&prompt, Some(13), Some(layout), &free, &mut || {}).unwrap() {
                if row.last() == Some(&13) {
                    assert_eq!((row.len() - 2) % 4, 0, "{row:?}");
                }
            }
        }
    }
}
