//! Mel filters: what the codec's loss and the benchmarks' MFCCs weigh frequencies by.

/// Triangular mel filters over the `n_fft / 2 + 1` bins of an `n_fft` transform at
/// `rate`, from 20 Hz to half the rate, as MFCCs take them (HTK's mel scale): `n_mels`
/// rows of weights, one after the other.
pub fn mel_filters(n_mels: usize, n_fft: usize, rate: u32) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let mel = |hz: f64| 2595.0 * (1.0 + hz / 700.0).log10();
    let hz = |m: f64| 700.0 * (10f64.powf(m / 2595.0) - 1.0);
    let (low, high) = (mel(20.0), mel(f64::from(rate) / 2.0));
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| hz(low + (high - low) * i as f64 / (n_mels + 1) as f64) * n_fft as f64 / f64::from(rate))
        .collect();
    let mut weights = vec![0f32; n_mels * bins];
    for m in 0..n_mels {
        let (l, c, r) = (edges[m], edges[m + 1], edges[m + 2]);
        for k in 0..bins {
            let k_f = k as f64;
            let w = if k_f <= l || k_f >= r {
                0.0
            } else if k_f <= c {
                (k_f - l) / (c - l).max(1e-9)
            } else {
                (r - k_f) / (r - c).max(1e-9)
            };
            weights[m * bins + k] = w as f32;
        }
    }
    weights
}
