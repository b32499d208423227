//! Speculative decoding (Leviathan et al. 2023; Chen et al. 2023): a cheap draft
//! proposes k tokens, the model scores all of them in one step of k + 1 positions, and
//! the standard rejection rule keeps a prefix of them, so that every token still
//! follows the model's distribution exactly. That step costs less than k + 1 steps of
//! one token: at the shakespeare-char size, 5 positions cost 1.6 times one (f32) and
//! 2.6 times (int8), as measured on the project's machine.
//!
//! A row is drawn alone (batch 1): rows of a batch would accept different numbers of
//! tokens. The model's cache always holds the row but its last token when a step
//! starts, as in plain decoding, so that a step that cannot speculate (the prompt, a
//! learned-position model whose context is full) is a plain one.

use super::backend::Steps;
use super::logits::{argmax, distribution, pick};
use super::options::{SampleError, SampleOptions};
use super::window::Window;
use crate::native::Readout;
use rand::Rng;
use rand::rngs::StdRng;

/// How many drafted tokens were kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Acceptance {
    /// Tokens the draft proposed.
    pub proposed: usize,
    /// Of those, tokens the model accepted.
    pub accepted: usize,
    /// Steps of the model (each drew at least one token).
    pub steps: usize,
    /// Tokens drawn.
    pub tokens: usize,
}

impl Acceptance {
    /// Accepted over proposed, 0 when nothing was proposed.
    pub fn rate(&self) -> f64 {
        if self.proposed == 0 { 0.0 } else { self.accepted as f64 / self.proposed as f64 }
    }

    /// Tokens drawn per step of the model.
    pub fn tokens_per_step(&self) -> f64 {
        if self.steps == 0 { 0.0 } else { self.tokens as f64 / self.steps as f64 }
    }
}

/// What proposes the next tokens.
pub(super) enum Draft<'s> {
    /// Prompt lookup: after the latest earlier occurrence of the row's last `n` tokens
    /// (the longest `n` from [`NGRAM`] down to 1 that occurs), what followed it.
    Ngram,
    /// A smaller model, with its own cache and context.
    Model(DraftModel<'s>),
}

/// Longest suffix that n-gram lookup matches.
const NGRAM: usize = 3;

/// A draft model's decoder and where its cache ends in the row.
pub(super) struct DraftModel<'s> {
    pub(super) steps: &'s mut dyn Steps,
    /// The draft's context, in tokens.
    pub(super) block: usize,
    /// Rotary positions: a full cache drops its oldest position.
    pub(super) rolling: bool,
    /// The row's tokens before `end` are in the cache.
    end: usize,
}

impl<'s> DraftModel<'s> {
    pub(super) fn new(steps: &'s mut dyn Steps, block: usize, rolling: bool) -> Self {
        steps.clear();
        Self { steps, block, rolling, end: 0 }
    }

    /// Feeds the row's tokens after the cache's end and returns the logits after the
    /// last, making room first: a rotary cache drops its oldest positions, a learned
    /// one restarts from the last 3/4 of its context.
    fn feed_to(&mut self, row: &[u32]) -> Result<Vec<f32>, SampleError> {
        let new = row.len() - self.end;
        if self.rolling {
            while self.steps.cached() > 0 && self.steps.cached() + new > self.block {
                self.steps.drop_oldest();
            }
        }
        if self.steps.cached() + new > self.block || self.end == 0 {
            self.steps.clear();
            self.end = row.len() - row.len().min(self.block - self.block / 4);
        }
        let logits = self.steps.feed(&row[self.end..], row.len() - self.end)?;
        self.end = row.len();
        Ok(logits)
    }
}

/// The drafted tokens, and for a model draft the distribution each was drawn from.
struct Proposal {
    tokens: Vec<u32>,
    /// (k, V), or empty for a lookup, whose proposals are certain.
    probs: Vec<Vec<f32>>,
}

impl Draft<'_> {
    /// Up to `k` tokens to follow `row`, each masked by `constrain` as the model's are.
    fn propose(
        &mut self,
        row: &[u32],
        k: usize,
        options: &SampleOptions,
        constrain: &dyn Fn(&[u32], &mut [f32]),
        rng: &mut StdRng,
    ) -> Result<Proposal, SampleError> {
        match self {
            Self::Ngram => Ok(Proposal { tokens: lookup(row, k), probs: Vec::new() }),
            Self::Model(m) => {
                let mut ctx = row.to_vec();
                let (mut tokens, mut probs) = (Vec::with_capacity(k), Vec::with_capacity(k));
                for _ in 0..k {
                    let mut logits = m.feed_to(&ctx)?;
                    constrain(&ctx, &mut logits);
                    let q = distribution(&mut logits, options);
                    let next = if options.temperature == 0.0 { argmax(&q) } else { pick(&q, rng) };
                    tokens.push(next);
                    probs.push(q);
                    ctx.push(next);
                }
                // The last drafted token is not fed: it may be rejected.
                Ok(Proposal { tokens, probs })
            }
        }
    }

    /// After `row` has grown to its new length: a model draft forgets what it fed past
    /// the tokens kept (those before `kept`, the row's length before its last token).
    fn settle(&mut self, kept: usize) {
        if let Self::Model(m) = self
            && m.end > kept
        {
            m.steps.drop_newest(m.end - kept);
            m.end = kept;
        }
    }
}

/// Prompt lookup: the tokens that followed the latest earlier occurrence of `row`'s last
/// `n` tokens, for the longest `n ≤ NGRAM` that has one; at most `k`.
fn lookup(row: &[u32], k: usize) -> Vec<u32> {
    for n in (1..=NGRAM.min(row.len().saturating_sub(1))).rev() {
        let tail = &row[row.len() - n..];
        // Latest first; the occurrence must end before the row does.
        if let Some(start) = (0..row.len() - n).rev().find(|&s| &row[s..s + n] == tail) {
            let from = start + n;
            return row[from..(from + k).min(row.len())].to_vec();
        }
    }
    Vec::new()
}

/// The rejection rule for a token `d` drawn from `q` (`None`: proposed for certain) where
/// the model's distribution is `p`: `None` keeps `d`, with probability min(1, p(d)/q(d));
/// otherwise the token drawn in its place from max(p - q, 0), renormalised. Either way
/// the token that comes out follows `p` exactly. `greedy`: `p` is one-hot, and `d` is
/// kept when it is the model's choice.
fn judge(p: &[f32], q: Option<&[f32]>, d: u32, greedy: bool, rng: &mut StdRng) -> Option<u32> {
    let pd = p[d as usize];
    let qd = q.map_or(1.0, |q| q[d as usize]);
    let keep = if greedy { pd > 0.0 } else { rng.random::<f32>() * qd < pd };
    if keep {
        return None;
    }
    let mut rest = p.to_vec();
    match q {
        Some(q) => rest.iter_mut().zip(q).for_each(|(r, q)| *r = (*r - q).max(0.0)),
        None => rest[d as usize] = 0.0,
    }
    // Rounding can leave nothing where p and q are all but equal.
    let from = if rest.iter().any(|&r| r > 0.0) { &rest } else { p };
    Some(if greedy { argmax(from) } else { pick(from, rng) })
}

/// Draws one row after `prompt` with a draft; `constrain(row, logits)` masks what may
/// not follow `row` (the grammar, ids never drawn, EOS before `min_tokens`), for the
/// model and the draft alike. Counts into `stats`; calls `on_token` per token.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_row(
    target: &mut dyn Steps,
    window: &Window,
    draft: &mut Draft,
    vocab: usize,
    prompt: &[u32],
    eos: Option<u32>,
    options: &SampleOptions,
    constrain: &dyn Fn(&[u32], &mut [f32]),
    rng: &mut StdRng,
    stats: &mut Acceptance,
    on_token: &mut (dyn FnMut() + Send),
) -> Result<Vec<u32>, SampleError> {
    let mut row = prompt.to_vec();
    target.clear();
    // The prompt but its last token, as plain decoding's first step sees it: its last
    // `block` tokens from position 0. The first step can then speculate.
    let start = row.len().saturating_sub(window.block);
    if row.len() - start >= 2 {
        target.feed(&row[start..row.len() - 1], row.len() - 1 - start)?;
    }
    let end = prompt.len() + options.max_tokens;
    // Drafts per step, adapted as in Hugging Face's assisted generation: 2 more after a
    // step that kept them all, 1 fewer after one that did not.
    let mut drafts = options.draft_tokens;
    while row.len() < end && !(row.len() > prompt.len() && row.last().copied() == eos) {
        let len = row.len();
        stats.steps += 1;
        // Room for k drafts and the row's last token: a rotary cache keeps its last
        // block - 1 positions (each new token sees its last `block`), a learned one
        // must not pass its block.
        if window.rolling {
            while target.cached() >= window.block {
                target.drop_oldest();
            }
        }
        let room =
            if window.rolling { SampleOptions::MAX_DRAFT } else { window.block.saturating_sub(target.cached() + 1) };
        let k = drafts.min(end - len - 1).min(room);
        let proposal = if target.cached() > 0 && k > 0 {
            draft.propose(&row, k, options, constrain, rng)?
        } else {
            Proposal { tokens: Vec::new(), probs: Vec::new() }
        };
        if proposal.tokens.is_empty() {
            // A plain step.
            let (start, count) = window.next_feed(target, len);
            let mut logits = target.feed(&row[start..start + count], count)?;
            constrain(&row, &mut logits);
            let p = distribution(&mut logits, options);
            row.push(if options.temperature == 0.0 { argmax(&p) } else { pick(&p, rng) });
            draft.settle(len);
            stats.tokens += 1;
            on_token();
            continue;
        }
        let k = proposal.tokens.len();
        let mut fed = vec![row[len - 1]];
        fed.extend(&proposal.tokens);
        let logits = target.feed_for(&fed, k + 1, Readout::All)?; // (k + 1, V)
        stats.proposed += k;
        let mut accepted = 0;
        for (i, logits) in logits.chunks_exact(vocab).enumerate() {
            let mut logits = logits.to_vec();
            constrain(&row, &mut logits);
            let p = distribution(&mut logits, options);
            let Some(&d) = proposal.tokens.get(i) else {
                // Every draft was kept: one more token from the model's last position.
                row.push(if options.temperature == 0.0 { argmax(&p) } else { pick(&p, rng) });
                break;
            };
            match judge(&p, proposal.probs.get(i).map(Vec::as_slice), d, options.temperature == 0.0, rng) {
                None => {
                    row.push(d);
                    accepted += 1;
                    if Some(d) == eos || row.len() == end {
                        break;
                    }
                }
                Some(other) => {
                    row.push(other);
                    break;
                }
            }
        }
        stats.accepted += accepted;
        drafts = if accepted == k { (drafts + 2).min(options.draft_tokens) } else { (drafts - 1).max(1) };
        stats.tokens += row.len() - len;
        (0..row.len() - len).for_each(|_| on_token());
        // The cache holds the row's tokens up to the last draft; keep those of the row
        // but its last token.
        target.drop_newest((len + k).saturating_sub(row.len() - 1));
        draft.settle(row.len() - 1);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::testing::sharp_model;
    use crate::sampler::{Decoder, DraftChoice, Sampler};
    use crate::{Gpt, ModelConfig, Positions};
    use rand::SeedableRng;
    use tch::{Device, Kind, nn};

    /// The chi-square statistic of `counts` against the probabilities `p`, and its
    /// degrees of freedom (the cells of p > 0, less one).
    fn chi_square(counts: &[usize], p: &[f32]) -> (f64, usize) {
        let n: usize = counts.iter().sum();
        let mut stat = 0.0;
        let mut cells = 0;
        for (&c, &p) in counts.iter().zip(p) {
            if p > 0.0 {
                let expected = n as f64 * f64::from(p);
                stat += (c as f64 - expected).powi(2) / expected;
                cells += 1;
            } else {
                assert_eq!(c, 0, "a token of probability 0 came out");
            }
        }
        (stat, cells - 1)
    }

    #[test]
    fn the_rejection_rule_gives_tokens_that_follow_the_models_distribution() {
        // p and q far apart, some tokens only one of them gives: over 100,000 draws of d
        // from q and the rule, the tokens follow p (chi-square, p-value far from 0;
        // 7 degrees of freedom: 24.3 is the 0.001 critical value).
        let p = [0.30, 0.05, 0.0, 0.20, 0.15, 0.10, 0.12, 0.05, 0.03];
        let q = [0.05, 0.40, 0.20, 0.05, 0.0, 0.10, 0.05, 0.05, 0.10];
        let mut rng = StdRng::seed_from_u64(17);
        let (mut counts, mut kept) = (vec![0usize; p.len()], 0);
        let draws = 100_000;
        for _ in 0..draws {
            let d = pick(&q, &mut rng);
            let token = match judge(&p, Some(&q), d, false, &mut rng) {
                None => {
                    kept += 1;
                    d
                }
                Some(other) => other,
            };
            counts[token as usize] += 1;
        }
        let (stat, df) = chi_square(&counts, &p);
        assert_eq!(df, 7);
        assert!(stat < 24.3, "chi-square {stat:.1} over {df} degrees of freedom: {counts:?}");
        // The rate of keeping is Σ min(p, q) = 0.38.
        let rate = f64::from(kept) / f64::from(draws);
        assert!((rate - 0.38).abs() < 0.01, "kept {rate}");
        // A certain proposal (lookup) is kept with probability p(d).
        let (mut counts, mut kept) = (vec![0usize; p.len()], 0);
        for _ in 0..draws {
            let token = judge(&p, None, 3, false, &mut rng).unwrap_or_else(|| {
                kept += 1;
                3
            });
            counts[token as usize] += 1;
        }
        assert!(chi_square(&counts, &p).0 < 24.3, "{counts:?}");
        assert!((f64::from(kept) / f64::from(draws) - 0.2).abs() < 0.01);
        // Greedy: kept when it is the argmax, else replaced by it.
        let greedy = [0.0, 0.0, 0.0, 1.0];
        assert_eq!(judge(&greedy, None, 3, true, &mut rng), None);
        assert_eq!(judge(&greedy, Some(&[0.0, 1.0, 0.0, 0.0]), 1, true, &mut rng), Some(3));
    }

    /// A sharp model (see `testing::sharp_model`) of vocabulary 29 and 2 layers.
    fn model_of(seed: i64, n_embd: i64, block_size: i64, positions: Positions) -> (nn::VarStore, Gpt) {
        sharp_model(seed, n_embd, block_size, ModelConfig { positions, ..Default::default() })
    }

    #[test]
    fn greedy_speculative_output_is_plain_greedy_output_on_both_decoders() {
        // Block 16 and 70 new tokens: the rotary cache rolls and the learned one is
        // rebuilt, between and during speculative steps. Drafts: lookup; the model
        // itself (every draft kept, then a token of the model's own); a model of half
        // the width and another seed (most drafts rejected). Several rows, drawn one at
        // a time.
        let prompt = [1u32, 5, 7, 5, 7, 2];
        for positions in [Positions::Learned, Positions::Rope] {
            let (_vs, gpt) = model_of(7, 16, 16, positions);
            let (_dvs, small) = model_of(8, 8, 16, positions);
            let plain_sampler = Sampler::new(&gpt, Device::Cpu);
            for decoder in [Decoder::Native, Decoder::Libtorch] {
                let greedy = SampleOptions { temperature: 0.0, num: 2, max_tokens: 70, decoder, ..Default::default() };
                let plain = plain_sampler.generate(&prompt, None, None, &greedy, &mut || {}).unwrap();
                let run = |name: &str| DraftChoice::Run(name.into());
                for (draft, model, k) in
                    [(DraftChoice::Ngram, &small, 4), (run("itself"), &gpt, 5), (run("small"), &small, 3)]
                {
                    let with_draft = Sampler::new(&gpt, Device::Cpu).with_draft(model);
                    let o = SampleOptions { draft: Some(draft.clone()), draft_tokens: k, ..greedy.clone() };
                    let mut tokens = 0;
                    let fast = with_draft.generate(&prompt, None, None, &o, &mut || tokens += 1).unwrap();
                    assert_eq!(fast, plain, "{positions:?} {decoder} {draft}");
                    assert_eq!(tokens, 2 * 70, "a call per token of each row");
                    let a = with_draft.acceptance().unwrap();
                    assert_eq!(a.tokens, 2 * 70);
                    let what = format!("{positions:?} {decoder} {draft}: {a:?}");
                    match draft.to_string().as_str() {
                        "itself" => assert_eq!(a.accepted, a.proposed, "{what}"),
                        "small" => assert!(a.proposed > a.accepted, "{what}"),
                        _ => assert!(a.accepted > 0 && a.steps < a.tokens, "{what}"),
                    }
                }
            }
        }
    }

    #[test]
    fn speculative_sampling_stops_at_eos_and_keeps_every_constraint() {
        let (_vs, gpt) = model_of(7, 16, 16, Positions::Rope);
        let (_dvs, small) = model_of(8, 8, 16, Positions::Rope);
        let never = [0u32, 9];
        let s = Sampler::new(&gpt, Device::Cpu).with_draft(&small).never_drawing(&never);
        for draft in [DraftChoice::Ngram, DraftChoice::Run("small".into())] {
            let o = SampleOptions {
                num: 6,
                max_tokens: 120,
                min_tokens: 10,
                top_k: Some(6),
                seed: 3,
                draft: Some(draft),
                ..Default::default()
            };
            let rows = s.generate(&[1, 2, 3, 1, 2], Some(4), None, &o, &mut || {}).unwrap();
            let mut ended = 0;
            for row in &rows {
                let new = &row[5..];
                assert!(new.len() <= 120 && !new.iter().any(|t| never.contains(t)), "{row:?}");
                assert!(!new[..10].contains(&4), "no EOS before min_tokens: {row:?}");
                if let Some(at) = new.iter().position(|&t| t == 4) {
                    assert_eq!(at + 1, new.len(), "a row ends at its EOS: {row:?}");
                    ended += 1;
                }
            }
            assert!(ended > 0, "some row drew EOS within 120 tokens");
        }
    }

    #[test]
    fn a_draft_must_fit_the_model() {
        let (_vs, gpt) = model_of(7, 16, 16, Positions::Rope);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = ModelConfig { n_layer: 1, n_head: 2, n_embd: 8, block_size: 16, ..Default::default() };
        let other = Gpt::new(&vs.root(), &config, 20, Kind::Float);
        let o = SampleOptions { draft: Some(DraftChoice::Run("runs/other".into())), ..Default::default() };
        let err = Sampler::new(&gpt, Device::Cpu).with_draft(&other).generate(&[1], None, None, &o, &mut || {});
        let err = err.unwrap_err().to_string();
        assert!(err.starts_with("sample.draft runs/other has a vocabulary of 20 ids, the model 29"), "{err}");
        let err = Sampler::new(&gpt, Device::Cpu).generate(&[1], None, None, &o, &mut || {}).unwrap_err().to_string();
        assert!(err.contains("no draft model was loaded"), "{err}");
        let layout = autoreg_tokens::FrameLayout { token: 28, len: 4, context: 1 };
        let ngram = SampleOptions { draft: Some(DraftChoice::Ngram), ..Default::default() };
        let err = Sampler::new(&gpt, Device::Cpu).generate(&[1], None, Some(layout), &ngram, &mut || {});
        assert!(err.unwrap_err().to_string().starts_with("sample.draft does not work with frames"));
    }

    #[test]
    fn lookup_continues_the_latest_earlier_occurrence_of_the_longest_suffix() {
        // "a b c d a b c" → after the earlier "a b c" came "d a b".
        assert_eq!(lookup(&[1, 2, 3, 4, 1, 2, 3], 3), vec![4, 1, 2]);
        // Only the last token matched: the latest earlier 9 was followed by 5.
        assert_eq!(lookup(&[9, 8, 9, 5, 7, 9], 2), vec![5, 7]);
        // Continuations stop at the row's end.
        assert_eq!(lookup(&[1, 2, 1, 2], 8), vec![1, 2]);
        assert!(lookup(&[1, 2, 3], 4).is_empty());
        assert!(lookup(&[5], 4).is_empty());
    }
}
