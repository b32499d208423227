//! Uniform quantization of values in [0, 1] to `levels` evenly spaced levels.

/// The level (`0..levels`) nearest to `value`, which is clamped to [0, 1].
pub(crate) fn level(value: f32, levels: u32) -> u32 {
    let top = levels.saturating_sub(1);
    ((value.clamp(0.0, 1.0) * top as f32).round() as u32).min(top)
}

/// The value in [0, 1] of `level`.
pub(crate) fn value(level: u32, levels: u32) -> f32 {
    level.min(levels - 1) as f32 / (levels - 1).max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_and_values_land_on_the_nearest_level() {
        for levels in [2, 17, 256] {
            for l in 0..levels {
                assert_eq!(level(value(l, levels), levels), l);
            }
            let step = 1.0 / (levels - 1) as f32;
            for i in 0..=1000 {
                let v = i as f32 / 1000.0;
                assert!((value(level(v, levels), levels) - v).abs() <= step / 2.0 + 1e-6, "{levels} {v}");
            }
        }
        assert_eq!((level(-0.5, 4), level(1.5, 4)), (0, 3));
    }
}
