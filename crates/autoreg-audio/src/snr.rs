//! Signal-to-noise ratio of a reconstruction.

/// Signal-to-noise ratio in dB of `reconstructed` against `reference`:
/// `10 log10(Σ reference² / Σ (reference − reconstructed)²)` over the common length.
/// Infinite when they are equal, negative infinity when the reference is silent and
/// the reconstruction is not.
pub fn snr_db(reference: &[f32], reconstructed: &[f32]) -> f64 {
    let (signal, noise) = reference.iter().zip(reconstructed).fold((0.0f64, 0.0f64), |(s, n), (&x, &y)| {
        let (x, y) = (f64::from(x), f64::from(y));
        (s + x * x, n + (x - y) * (x - y))
    });
    if noise == 0.0 { f64::INFINITY } else { 10.0 * (signal / noise).log10() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ratios() {
        let x = [1.0, -1.0, 1.0, -1.0];
        assert_eq!(snr_db(&x, &x), f64::INFINITY);
        let half: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
        // Noise is half the signal: a power ratio of 4, about 6.02 dB.
        assert!((snr_db(&x, &half) - 10.0 * 4f64.log10()).abs() < 1e-9);
        assert_eq!(snr_db(&[0.0; 4], &x), f64::NEG_INFINITY);
    }
}
