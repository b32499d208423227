//! Count-based baselines that the decoder should beat, evaluated on the same targets
//! as [`crate::evaluate`]: every token of a document after its first.

use crate::TrainError;
use autoreg_data::TokenStore;
use std::collections::HashMap;

/// A baseline model of next tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// One distribution over tokens (add-one smoothing): the entropy of the data.
    Unigram,
    /// An order-k Markov chain: the next token given the k before it (within the
    /// document), each order interpolated with the one below (Dirichlet smoothing).
    Markov(usize),
    /// A distribution per position in the document (add-one smoothing): the
    /// independent-pixel model of images.
    Positional,
    /// The next token given the token `k` positions before it (add-one smoothing; the
    /// first `k` tokens of a document by their unigram). With `k` a video's frame
    /// length: each pixel given the same pixel of the last frame, the probabilistic
    /// form of copying the last frame.
    Lag(usize),
}

impl Baseline {
    /// Highest order of [`Baseline::Markov`]. The chain keeps up to `order + 1` contexts
    /// of every training token, each of up to `order` tokens, and fitting it hashes them
    /// all (time and memory growing with the square of the order); past a few dozen
    /// tokens nearly every context is seen once, so a longer one predicts nothing that a
    /// shorter one does not.
    pub const MAX_MARKOV_ORDER: usize = 32;
}

impl std::fmt::Display for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unigram => f.write_str("unigram"),
            Self::Markov(k) => write!(f, "order-{k} Markov"),
            Self::Positional => f.write_str("per-position"),
            Self::Lag(k) => write!(f, "the token {k} back"),
        }
    }
}

/// Total nats of `val`'s targets under `baseline` fitted on `train`, and their count.
/// A Markov order above [`Baseline::MAX_MARKOV_ORDER`], or a chain whose table would
/// outgrow half the memory available, is an error (before it takes that memory).
pub fn baseline_nats(
    baseline: Baseline,
    train: &TokenStore,
    val: &TokenStore,
    vocab: usize,
) -> Result<(f64, usize), TrainError> {
    let mut total = 0.0;
    let mut count = 0;
    match baseline {
        Baseline::Unigram => {
            let mut counts = vec![0.0f64; vocab];
            train.docs().for_each(|d| d.iter().skip(1).for_each(|&t| counts[t as usize] += 1.0));
            let sum: f64 = counts.iter().sum::<f64>() + vocab as f64;
            for d in val.docs() {
                for &t in d.iter().skip(1) {
                    total -= ((counts[t as usize] + 1.0) / sum).ln();
                    count += 1;
                }
            }
        }
        Baseline::Positional => {
            let mut counts: Vec<Vec<f64>> = Vec::new();
            for d in train.docs() {
                for (i, &t) in d.iter().enumerate().skip(1) {
                    if counts.len() <= i {
                        counts.resize(i + 1, vec![0.0; vocab]);
                    }
                    counts[i][t as usize] += 1.0;
                }
            }
            let sums: Vec<f64> = counts.iter().map(|row| row.iter().sum()).collect();
            for d in val.docs() {
                for (i, &t) in d.iter().enumerate().skip(1) {
                    let (c, sum) = counts.get(i).map_or((0.0, 0.0), |row| (row[t as usize], sums[i]));
                    total -= ((c + 1.0) / (sum + vocab as f64)).ln();
                    count += 1;
                }
            }
        }
        Baseline::Lag(lag) => {
            let (mut pairs, mut before) = (HashMap::<(u32, u32), f64>::new(), HashMap::<u32, f64>::new());
            let mut counts = vec![0.0f64; vocab];
            for d in train.docs() {
                for i in 1..d.len() {
                    counts[d[i] as usize] += 1.0;
                    if i >= lag {
                        *pairs.entry((d[i - lag], d[i])).or_default() += 1.0;
                        *before.entry(d[i - lag]).or_default() += 1.0;
                    }
                }
            }
            let sum: f64 = counts.iter().sum::<f64>() + vocab as f64;
            for d in val.docs() {
                for i in 1..d.len() {
                    let t = d[i];
                    total -= if i >= lag {
                        let seen = before.get(&d[i - lag]).copied().unwrap_or(0.0);
                        ((pairs.get(&(d[i - lag], t)).copied().unwrap_or(0.0) + 1.0) / (seen + vocab as f64)).ln()
                    } else {
                        ((counts[t as usize] + 1.0) / sum).ln()
                    };
                    count += 1;
                }
            }
        }
        Baseline::Markov(order) => {
            if order > Baseline::MAX_MARKOV_ORDER {
                return Err(TrainError::Config(format!(
                    "an order-{order} Markov chain: the order must be at most {}",
                    Baseline::MAX_MARKOV_ORDER
                )));
            }
            let budget = autoreg_model::available_memory().map_or(f64::INFINITY, |m| m as f64 / 2.0);
            let model = Markov::fit(train, order, vocab, budget)?;
            for d in val.docs() {
                for i in 1..d.len() {
                    total -= model.prob(&d[i.saturating_sub(order)..i], d[i]).ln();
                    count += 1;
                }
            }
        }
    }
    Ok((total, count))
}

/// Counts of contexts of length 0..=order and of the tokens that follow them.
struct Markov {
    /// Per context: (number of times seen, counts of the next token).
    table: HashMap<Vec<u32>, (f64, HashMap<u32, f64>)>,
    vocab: usize,
}

/// Pseudo-count given to the lower order's distribution.
const ALPHA: f64 = 1.0;

/// Rough bytes of a new context in [`Markov`]'s table, besides its tokens: its slot, its
/// key's allocation and a small map of next tokens.
const CONTEXT_BYTES: f64 = 192.0;

/// Rough bytes of one more next token in a context's map.
const NEXT_BYTES: f64 = 32.0;

impl Markov {
    /// Counts the contexts of `train` up to `order`; an error when the table grows past
    /// `budget` bytes.
    fn fit(train: &TokenStore, order: usize, vocab: usize, budget: f64) -> Result<Self, TrainError> {
        let mut table: HashMap<Vec<u32>, (f64, HashMap<u32, f64>)> = HashMap::new();
        let (mut bytes, mut done) = (0.0, 0usize);
        for d in train.docs() {
            for i in 1..d.len() {
                for k in 0..=order.min(i) {
                    let context = &d[i - k..i];
                    // Look up by slice first: a new key is allocated once, not per occurrence.
                    let entry = match table.get_mut(context) {
                        Some(entry) => entry,
                        None => {
                            bytes += CONTEXT_BYTES + 4.0 * k as f64;
                            table.entry(context.to_vec()).or_default()
                        }
                    };
                    entry.0 += 1.0;
                    let nexts = entry.1.len();
                    *entry.1.entry(d[i]).or_default() += 1.0;
                    if entry.1.len() > nexts {
                        bytes += NEXT_BYTES;
                    }
                }
                done += 1;
                if bytes > budget {
                    let total: usize = train.docs().map(|d| d.len().saturating_sub(1)).sum();
                    return Err(TrainError::Config(format!(
                        "an order-{order} Markov chain: its table of contexts passed {:.1} GB, half the memory \
                         available, after {done} of the {total} training tokens; lower the order",
                        budget / 1e9
                    )));
                }
            }
        }
        Ok(Self { table, vocab })
    }

    /// P(next | context), backing off from the longest context to a uniform one.
    fn prob(&self, context: &[u32], next: u32) -> f64 {
        let mut p = 1.0 / self.vocab as f64;
        for k in 0..=context.len() {
            if let Some((seen, nexts)) = self.table.get(&context[context.len() - k..]) {
                p = (nexts.get(&next).copied().unwrap_or(0.0) + ALPHA * p) / (seen + ALPHA);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(docs: &[&[u32]]) -> TokenStore {
        let mut s = TokenStore::new();
        docs.iter().for_each(|d| s.push(d));
        s
    }

    #[test]
    fn markov_learns_a_deterministic_sequence_and_unigram_does_not() {
        let cycle: Vec<u32> = (0..300).map(|i| i % 3).collect();
        let (train, val) = (store(&[&cycle]), store(&[&cycle[..30]]));
        let (markov, n) = baseline_nats(Baseline::Markov(2), &train, &val, 4).unwrap();
        let (unigram, m) = baseline_nats(Baseline::Unigram, &train, &val, 4).unwrap();
        assert_eq!((n, m), (29, 29));
        assert!(markov / (n as f64) < 0.05, "{markov}");
        assert!((unigram / m as f64 - 3f64.ln()).abs() < 0.05, "{unigram}");
    }

    #[test]
    fn markov_probabilities_sum_to_one() {
        let train = store(&[&[0, 1, 2, 1, 0, 2, 2, 1], &[3, 3, 1]]);
        let model = Markov::fit(&train, 2, 5, f64::INFINITY).unwrap();
        for context in [&[][..], &[1], &[2, 1], &[4, 4]] {
            let sum: f64 = (0..5).map(|t| model.prob(context, t)).sum();
            assert!((sum - 1.0).abs() < 1e-9, "{context:?}: {sum}");
        }
    }

    #[test]
    fn positional_model_learns_fixed_layouts() {
        let train = store(&[&[9, 1, 2, 3], &[9, 1, 2, 3], &[9, 1, 2, 3]]);
        let (pos, n) = baseline_nats(Baseline::Positional, &train, &store(&[&[9, 1, 2, 3]]), 10).unwrap();
        let (uni, _) = baseline_nats(Baseline::Unigram, &train, &store(&[&[9, 1, 2, 3]]), 10).unwrap();
        assert_eq!(n, 3);
        assert!(pos < uni);
    }

    #[test]
    fn lag_model_learns_frames_that_repeat() {
        // Frames of 3 (9, then two pixels) that repeat from frame to frame: each token
        // is the one 3 back, which the lag-3 model learns and the unigram cannot.
        let clip = |a: u32, b: u32| -> Vec<u32> { [8].into_iter().chain((0..20).flat_map(|_| [9, a, b])).collect() };
        let train = store(&[&clip(1, 2), &clip(3, 4), &clip(2, 1)]);
        let val = store(&[&clip(4, 3)]);
        let (lag, n) = baseline_nats(Baseline::Lag(3), &train, &val, 10).unwrap();
        let (uni, m) = baseline_nats(Baseline::Unigram, &train, &val, 10).unwrap();
        assert_eq!((n, m), (60, 60));
        assert!(lag / (n as f64) < 0.5 * uni / m as f64, "lag {lag}, unigram {uni}");
        assert_eq!(Baseline::Lag(3).to_string(), "the token 3 back");
    }

    #[test]
    fn markov_orders_past_the_limit_or_the_memory_are_refused() {
        let cycle: Vec<u32> = (0..300).map(|i| i % 7).collect();
        let train = store(&[&cycle]);
        let err = baseline_nats(Baseline::Markov(1_000_000), &train, &train, 8).unwrap_err().to_string();
        assert!(err.contains("order-1000000") && err.contains("at most 32"), "{err}");
        let err = Markov::fit(&train, 8, 8, 2_000.0).err().unwrap().to_string();
        assert!(err.contains("passed") && err.contains("of the 299 training tokens"), "{err}");
        assert!(Markov::fit(&train, 8, 8, f64::INFINITY).is_ok());
    }
}
