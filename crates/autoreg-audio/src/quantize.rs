//! Sample values in `[-1, 1]` to quantization levels and back.

use crate::config::Quantization;

/// Maps samples to `2^bits` levels, mu-law (μ = 2^bits − 1) or linear.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quantizer {
    kind: Quantization,
    /// Highest level, `2^bits − 1`; also μ for mu-law.
    top: f32,
    /// ln(1 + μ), the mu-law normaliser.
    ln_1p_top: f32,
}

impl Quantizer {
    /// A quantizer with `2^bits` levels.
    pub(crate) fn new(kind: Quantization, bits: u32) -> Self {
        let top = ((1u32 << bits) - 1) as f32;
        Self { kind, top, ln_1p_top: top.ln_1p() }
    }

    /// The level of `sample`, clamped to `[-1, 1]`; NaN gives the middle level.
    pub(crate) fn level(&self, sample: f32) -> u32 {
        let x = if sample.is_nan() { 0.0 } else { sample.clamp(-1.0, 1.0) };
        let y = match self.kind {
            Quantization::Linear => x,
            Quantization::MuLaw => x.signum() * (self.top * x.abs()).ln_1p() / self.ln_1p_top,
        };
        ((y + 1.0) / 2.0 * self.top).round() as u32
    }

    /// The sample value of `level` (levels above the top are read as the top).
    pub(crate) fn value(&self, level: u32) -> f32 {
        let y = 2.0 * (level as f32).min(self.top) / self.top - 1.0;
        match self.kind {
            Quantization::Linear => y,
            Quantization::MuLaw => y.signum() * (y.abs() * self.ln_1p_top).exp_m1() / self.top,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep() -> impl Iterator<Item = f32> {
        (-1000..=1000).map(|i| i as f32 / 1000.0)
    }

    #[test]
    fn levels_are_monotonic_and_span_the_range() {
        for (kind, bits) in [(Quantization::MuLaw, 8), (Quantization::Linear, 8), (Quantization::MuLaw, 10)] {
            let q = Quantizer::new(kind, bits);
            let levels: Vec<u32> = sweep().map(|x| q.level(x)).collect();
            assert!(levels.windows(2).all(|w| w[0] <= w[1]), "{kind:?}");
            assert_eq!((levels[0], *levels.last().unwrap()), (0, (1 << bits) - 1), "{kind:?}");
            assert_eq!(q.level(5.0), (1 << bits) - 1);
            assert_eq!(q.level(-5.0), 0);
        }
    }

    #[test]
    fn mu_law_error_grows_with_amplitude_and_linear_error_is_flat() {
        let mu = Quantizer::new(Quantization::MuLaw, 8);
        let lin = Quantizer::new(Quantization::Linear, 8);
        let err = |q: &Quantizer, x: f32| (q.value(q.level(x)) - x).abs();
        // Mu-law: fine steps near silence, coarse near full scale; half a step of 2/255 in
        // the companded domain is at most ln(256)/255 * 256^(1/255) * (1/255 + |x|) in
        // the signal.
        assert!(err(&mu, 0.001) < 2e-4);
        assert!(sweep().all(|x| err(&mu, x) <= 0.0223 * (x.abs() + 1.0 / 255.0)), "mu-law error is relative");
        // Linear: half a step of 2/255 everywhere.
        assert!(sweep().all(|x| err(&lin, x) <= 1.0 / 255.0 + 1e-6));
        // Every level decodes to itself.
        for q in [mu, lin] {
            assert!((0..256).all(|l| q.level(q.value(l)) == l));
        }
    }
}
