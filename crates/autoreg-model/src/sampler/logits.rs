//! One token from a row of logits: temperature, top-k, top-p, and the draw.

use super::options::SampleOptions;
use rand::Rng;
use rand::rngs::StdRng;

/// One token from a row of logits (V,), with the seeded RNG on the CPU, so that a seed
/// gives the same tokens on every device and decoder. Overwrites `logits`.
pub(super) fn draw(logits: &mut [f32], options: &SampleOptions, rng: &mut StdRng) -> u32 {
    if options.temperature == 0.0 {
        return argmax(logits);
    }
    pick(&distribution(logits, options), rng)
}

/// The distribution that [`draw`] draws from (V,): the softmax of the logits after
/// temperature, top-k and top-p; for temperature 0, all of it on the first largest
/// logit. Overwrites `logits`.
pub(super) fn distribution(logits: &mut [f32], options: &SampleOptions) -> Vec<f32> {
    if options.temperature == 0.0 {
        let mut one = vec![0.0; logits.len()];
        one[argmax(logits) as usize] = 1.0;
        return one;
    }
    let t = options.temperature as f32;
    logits.iter_mut().for_each(|v| *v /= t);
    // k is clamped in usize, so that a huge k keeps every token.
    if let Some(k) = options.top_k.filter(|&k| k < logits.len()) {
        let mut sorted = logits.to_vec();
        sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        let kth = sorted[k - 1];
        logits.iter_mut().filter(|v| **v < kth).for_each(|v| *v = f32::NEG_INFINITY);
    }
    if let Some(p) = options.top_p {
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        let probs = softmax(logits);
        // Drop a token when the tokens before it already cover p.
        let mut covered = 0.0f64;
        for &i in &order {
            if covered > p {
                logits[i] = f32::NEG_INFINITY;
            }
            covered += f64::from(probs[i]);
        }
    }
    softmax(logits)
}

/// One index of `probs` (V,), drawn in proportion to its values (which need not sum to
/// exactly 1).
pub(super) fn pick(probs: &[f32], rng: &mut StdRng) -> u32 {
    let total: f32 = probs.iter().sum();
    let mut u = rng.random::<f32>() * total;
    let last = probs.iter().rposition(|&p| p > 0.0).unwrap_or(0);
    probs
        .iter()
        .position(|&p| {
            u -= p;
            u < 0.0
        })
        .map_or(last, |i| i.min(last)) as u32
}

/// The first index of the largest value.
pub(super) fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Probabilities from logits (V,).
fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let exps: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Positions;
    use crate::sampler::Sampler;
    use crate::sampler::testing::{model, opts};
    use tch::Device;

    #[test]
    fn greedy_and_top_k_1_agree() {
        let (_vs, gpt) = model(16, Positions::Rope);
        let s = Sampler::new(&gpt, Device::Cpu);
        let greedy =
            s.generate(&[2], None, None, &SampleOptions { temperature: 0.0, ..opts(1, true) }, &mut || {}).unwrap();
        let top1 =
            s.generate(&[2], None, None, &SampleOptions { top_k: Some(1), ..opts(9, true) }, &mut || {}).unwrap();
        let nucleus =
            s.generate(&[2], None, None, &SampleOptions { top_p: Some(1e-6), ..opts(4, true) }, &mut || {}).unwrap();
        assert_eq!(greedy, top1);
        assert_eq!(greedy, nucleus);
    }

    #[test]
    fn a_huge_top_k_keeps_every_token() {
        let (_vs, gpt) = model(8, Positions::Learned);
        let s = Sampler::new(&gpt, Device::Cpu);
        let huge = SampleOptions { top_k: Some(usize::MAX), ..opts(2, true) };
        let plain = s.generate(&[1], None, None, &opts(2, true), &mut || {}).unwrap();
        assert_eq!(s.generate(&[1], None, None, &huge, &mut || {}).unwrap(), plain);
    }
}
