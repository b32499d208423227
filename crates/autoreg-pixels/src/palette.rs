//! A colour palette learned by k-means (Image GPT), and the nearest-colour search.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::BTreeSet;

/// Lloyd iterations at most; k-means stops earlier when no pixel changes cluster.
const ITERATIONS: usize = 30;

/// Squared distance between two colours on the 0-255 scale.
fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|i| (a[i] - b[i]) * (a[i] - b[i])).sum()
}

/// A palette colour on the 0-255 scale.
fn scaled(colour: [u8; 3]) -> [f32; 3] {
    colour.map(f32::from)
}

/// Index of the centre nearest to `point` (the first of equals).
fn nearest_centre(centres: &[[f32; 3]], point: [f32; 3]) -> usize {
    let mut best = (0, f32::INFINITY);
    for (i, &c) in centres.iter().enumerate() {
        let d = distance(c, point);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// Index of the palette colour nearest to `pixel` (RGB values in [0, 1]).
pub(crate) fn nearest(palette: &[[u8; 3]], pixel: [f32; 3]) -> usize {
    let point = pixel.map(|v| v.clamp(0.0, 1.0) * 255.0);
    let mut best = (0, f32::INFINITY);
    for (i, &c) in palette.iter().enumerate() {
        let d = distance(scaled(c), point);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// Learns at most `k` colours from `pixels` (RGB values in [0, 1]), deterministic for a
/// `seed`: the distinct colours themselves when there are at most `k`, else k-means++
/// and Lloyd iterations. Colours are rounded to 8 bits, unique and sorted.
pub(crate) fn fit(pixels: &[[f32; 3]], k: usize, seed: u64) -> Vec<[u8; 3]> {
    let points: Vec<[f32; 3]> = pixels.iter().map(|p| p.map(|v| (v.clamp(0.0, 1.0) * 255.0).round())).collect();
    let distinct: BTreeSet<[u8; 3]> = points.iter().map(|p| p.map(|v| v as u8)).collect();
    if distinct.len() <= k {
        return distinct.into_iter().collect();
    }
    let mut centres = start(&points, k, seed);
    let mut assignment = vec![usize::MAX; points.len()];
    for _ in 0..ITERATIONS {
        let next: Vec<usize> = points.par_iter().map(|&p| nearest_centre(&centres, p)).collect();
        if next == assignment {
            break;
        }
        assignment = next;
        let mut sums = vec![([0.0f64; 3], 0usize); k];
        for (p, &a) in points.iter().zip(&assignment) {
            (0..3).for_each(|i| sums[a].0[i] += f64::from(p[i]));
            sums[a].1 += 1;
        }
        for (centre, (sum, n)) in centres.iter_mut().zip(sums) {
            if n > 0 {
                *centre = sum.map(|s| (s / n as f64) as f32);
            }
        }
    }
    let palette: BTreeSet<[u8; 3]> = centres.iter().map(|c| c.map(|v| v.round().clamp(0.0, 255.0) as u8)).collect();
    palette.into_iter().collect()
}

/// k-means++ start: each next centre drawn with probability proportional to its squared
/// distance to the nearest centre so far.
fn start(points: &[[f32; 3]], k: usize, seed: u64) -> Vec<[f32; 3]> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut centres = vec![points[rng.random_range(0..points.len())]];
    let mut nearest: Vec<f32> = points.iter().map(|&p| distance(p, centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().map(|&d| f64::from(d)).sum();
        let mut target = rng.random::<f64>() * total;
        let chosen = nearest
            .iter()
            .position(|&d| {
                target -= f64::from(d);
                target < 0.0 && d > 0.0
            })
            .or_else(|| nearest.iter().rposition(|&d| d > 0.0))
            .unwrap_or(0);
        let centre = points[chosen];
        centres.push(centre);
        nearest.par_iter_mut().zip(points).for_each(|(d, &p)| *d = d.min(distance(p, centre)));
    }
    centres
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_pixels(n: usize, seed: u64) -> Vec<[f32; 3]> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| [rng.random(), rng.random(), rng.random()]).collect()
    }

    #[test]
    fn is_deterministic_for_a_seed_and_has_the_requested_size() {
        let pixels = random_pixels(3000, 1);
        let a = fit(&pixels, 16, 7);
        assert_eq!(a, fit(&pixels, 16, 7));
        assert_ne!(a, fit(&pixels, 16, 8));
        assert_eq!(a.len(), 16);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn keeps_the_distinct_colours_when_there_are_few() {
        let colours = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.4, 0.6]];
        let pixels: Vec<[f32; 3]> = (0..300).map(|i| colours[i % 3]).collect();
        assert_eq!(fit(&pixels, 8, 0), vec![[0, 0, 0], [51, 102, 153], [255, 0, 0]]);
    }

    #[test]
    fn finds_well_separated_clusters() {
        let mut rng = StdRng::seed_from_u64(3);
        let centres = [[0.1f32, 0.1, 0.1], [0.9, 0.1, 0.1], [0.1, 0.9, 0.5], [0.5, 0.5, 0.9]];
        let pixels: Vec<[f32; 3]> =
            (0..2000).map(|i| centres[i % 4].map(|c| c + rng.random_range(-0.02..0.02))).collect();
        let palette = fit(&pixels, 4, 0);
        for c in centres {
            let found = scaled(palette[nearest(&palette, c)]);
            assert!(distance(found, c.map(|v| v * 255.0)) < 3.0 * 3.0 * 3.0, "{c:?} -> {found:?}");
        }
    }

    #[test]
    fn nearest_picks_the_closest_colour() {
        let palette = [[0, 0, 0], [255, 255, 255], [255, 0, 0]];
        assert_eq!(nearest(&palette, [0.9, 0.2, 0.1]), 2);
        assert_eq!(nearest(&palette, [0.6, 0.6, 0.6]), 1);
        assert_eq!(nearest(&palette, [0.1, 0.0, 0.3]), 0);
    }
}
