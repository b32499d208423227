//! Level adjustments: peak normalisation and silence trimming.

/// Scales `samples` so that the largest magnitude is 1.0; silence is left as it is.
pub(crate) fn normalize(samples: &mut [f32]) {
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 0.0 {
        samples.iter_mut().for_each(|s| *s /= peak);
    }
}

/// The part of `samples` from the first to the last sample louder than `threshold`;
/// empty when none is.
pub(crate) fn trim_silence(samples: &[f32], threshold: f32) -> &[f32] {
    let loud = |s: &f32| s.abs() > threshold;
    match (samples.iter().position(loud), samples.iter().rposition(loud)) {
        (Some(first), Some(last)) => &samples[first..=last],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_brings_the_peak_to_full_scale() {
        let mut s = vec![0.1, -0.25, 0.2];
        normalize(&mut s);
        assert_eq!(s, vec![0.4, -1.0, 0.8]);
        let mut silent = vec![0.0; 3];
        normalize(&mut silent);
        assert_eq!(silent, vec![0.0; 3]);
    }

    #[test]
    fn trim_keeps_the_loud_middle() {
        let s = [0.0, 0.01, -0.5, 0.0, 0.3, 0.02, 0.0];
        assert_eq!(trim_silence(&s, 0.05), &[-0.5, 0.0, 0.3]);
        assert!(trim_silence(&s, 0.9).is_empty());
        assert_eq!(trim_silence(&s, 0.0).len(), 5);
    }
}
