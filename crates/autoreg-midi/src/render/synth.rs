//! A small additive synthesizer for audio previews.

use crate::score::Score;

/// Samples per second of the preview.
pub const SAMPLE_RATE: u32 = 22_050;
/// Longest preview, in seconds.
const MAX_SECONDS: f64 = 600.0;
/// Attack and release times, in seconds.
const ATTACK: f64 = 0.01;
const RELEASE: f64 = 0.08;
/// Harmonics (multiple of the fundamental, amplitude) of the pitched voice.
const HARMONICS: [(f64, f64); 3] = [(1.0, 1.0), (2.0, 0.35), (3.0, 0.15)];

/// Mono samples in -1..=1: each note a few decaying sine harmonics with a short attack
/// and release; drums a burst of noise. The mix is scaled down if it would clip.
pub(super) fn synthesize(score: &Score) -> Vec<f32> {
    let rate = f64::from(SAMPLE_RATE);
    let length = ((score.seconds_at(score.end()) + RELEASE).min(MAX_SECONDS) * rate) as usize + 1;
    let mut mix = vec![0f32; length];
    let mut noise = 0x2545_f491_u32;
    for note in &score.notes {
        let start = score.seconds_at(note.start);
        let seconds = (score.seconds_at(note.end()) - start).max(0.02);
        let first = (start * rate) as usize;
        if first >= length {
            continue;
        }
        let amplitude = 0.25 * f64::from(note.velocity.min(127)) / 127.0;
        let frequency = 440.0 * 2f64.powf((f64::from(note.pitch) - 69.0) / 12.0);
        let count = (((seconds + RELEASE) * rate) as usize).min(length - first);
        for (i, out) in mix[first..first + count].iter_mut().enumerate() {
            let t = i as f64 / rate;
            let envelope = (t / ATTACK).min(1.0) * release(t, seconds);
            let value = if note.is_drum() {
                noise ^= noise << 13;
                noise ^= noise >> 17;
                noise ^= noise << 5;
                (f64::from(noise) / f64::from(u32::MAX) * 2.0 - 1.0) * (-t * 30.0).exp()
            } else {
                let decay = (-t * 1.5).exp();
                HARMONICS.iter().map(|&(k, a)| a * (std::f64::consts::TAU * frequency * k * t).sin()).sum::<f64>()
                    * decay
                    / 1.5
            };
            *out += (amplitude * envelope * value) as f32;
        }
    }
    let peak = mix.iter().fold(0f32, |m, s| m.max(s.abs()));
    if peak > 0.99 {
        mix.iter_mut().for_each(|s| *s *= 0.99 / peak);
    }
    mix
}

/// Gain at time `t` of a note held for `held` seconds: 1, then a linear release.
fn release(t: f64, held: f64) -> f64 {
    if t <= held { 1.0 } else { (1.0 - (t - held) / RELEASE).max(0.0) }
}
