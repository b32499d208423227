//! The vocabulary: token kinds, their id ranges and their names.

use crate::config::{Meter, MidiConfig, Scheme};
use crate::score::DEFAULT_MICROS_PER_BEAT;

/// Program number used for drums (channel 10) in `Program` tokens, named `Program_-1`
/// as in MidiTok.
pub(crate) const DRUMS: u8 = 128;

/// One ordinary token, by meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A new bar (REMI).
    Bar,
    /// Grid step within the bar (REMI).
    Position(u16),
    /// MIDI pitch.
    Pitch(u8),
    /// Velocity level (index into the levels).
    Velocity(u8),
    /// Duration in grid steps, from 1.
    Duration(u16),
    /// Time to advance in grid steps, from 1 (TSD).
    TimeShift(u16),
    /// Tempo level (index into the levels).
    Tempo(u8),
    /// Time signature (index into the configured list).
    TimeSig(u8),
    /// Instrument of the next note: a General MIDI program, or [`DRUMS`].
    Program(u8),
}

/// A block of consecutive ids, `start..start + len`.
#[derive(Clone, Copy, Debug, Default)]
struct Block {
    start: u32,
    len: u32,
}

impl Block {
    fn get(&self, id: u32) -> Option<u32> {
        id.checked_sub(self.start).filter(|&i| i < self.len)
    }
}

/// The ids of every token kind, derived from a [`MidiConfig`].
#[derive(Clone, Debug)]
pub(crate) struct Vocab {
    bar: Block,
    position: Block,
    pitch: Block,
    velocity: Block,
    duration: Block,
    time_shift: Block,
    tempo: Block,
    time_sig: Block,
    program: Block,
    /// Number of ordinary tokens.
    pub size: u32,
    pitch_low: u8,
    /// Velocity of each level.
    pub velocities: Vec<u8>,
    /// Level of each velocity 0..=127.
    velocity_level: [u8; 128],
    /// Beats per minute of each tempo level.
    pub tempos: Vec<u16>,
    /// The time signatures with a token.
    pub meters: Vec<Meter>,
}

impl Vocab {
    /// The vocabulary of a validated config.
    pub fn new(config: &MidiConfig) -> Self {
        let ppb = u32::from(config.positions_per_beat);
        let remi = config.scheme == Scheme::Remi;
        let bar_steps = config
            .time_signatures
            .iter()
            .map(|m| Meter::bar_steps(Some(m), config.positions_per_beat))
            .max()
            .unwrap_or_else(|| Meter::bar_steps(None, config.positions_per_beat));
        let max_steps = u32::from(config.max_duration_beats) * ppb;
        let [lo, hi] = config.pitch_range;
        let velocities = levels(1.0, 127.0, config.velocity_bins, true);
        let tempos =
            tempo_levels(f64::from(config.tempo_range[0]), f64::from(config.tempo_range[1]), config.tempo_bins);
        let mut velocity_level = [0u8; 128];
        for (v, level) in velocity_level.iter_mut().enumerate() {
            *level = nearest(&velocities, v as f64);
        }
        let mut next = 0;
        let mut block = |len: u32| {
            let b = Block { start: next, len };
            next += len;
            b
        };
        Self {
            bar: block(u32::from(remi)),
            position: block(if remi { bar_steps } else { 0 }),
            pitch: block(u32::from(hi - lo) + 1),
            velocity: block(velocities.len() as u32),
            duration: block(max_steps),
            time_shift: block(if remi { 0 } else { max_steps }),
            tempo: block(tempos.len() as u32),
            time_sig: block(config.time_signatures.len() as u32),
            program: block(if config.programs { 129 } else { 0 }),
            size: next,
            pitch_low: lo,
            velocities: velocities.iter().map(|&v| v as u8).collect(),
            velocity_level,
            tempos: tempos.iter().map(|&t| t as u16).collect(),
            meters: config.time_signatures.clone(),
        }
    }

    /// This vocabulary as saved before the tempo levels were placed on 120 bpm: the
    /// same tokens, with tempo levels evenly spaced over the whole range. Saved
    /// tokenizers with these names still load (and decode with the current levels).
    pub fn with_former_tempos(&self, config: &MidiConfig) -> Vocab {
        let [slow, fast] = config.tempo_range.map(f64::from);
        let tempos = levels(slow, fast, config.tempo_bins, false).iter().map(|&t| t as u16).collect();
        Vocab { tempos, ..self.clone() }
    }

    /// The id of `token`, or `None` if this vocabulary has no such token.
    pub fn id(&self, token: Token) -> Option<u32> {
        let (block, index) = match token {
            Token::Bar => (self.bar, 0),
            Token::Position(p) => (self.position, u32::from(p)),
            Token::Pitch(p) => (self.pitch, u32::from(p).checked_sub(u32::from(self.pitch_low))?),
            Token::Velocity(v) => (self.velocity, u32::from(v)),
            Token::Duration(d) => (self.duration, u32::from(d).checked_sub(1)?),
            Token::TimeShift(d) => (self.time_shift, u32::from(d).checked_sub(1)?),
            Token::Tempo(t) => (self.tempo, u32::from(t)),
            Token::TimeSig(s) => (self.time_sig, u32::from(s)),
            Token::Program(p) => (self.program, u32::from(p)),
        };
        (index < block.len).then_some(block.start + index)
    }

    /// The token with id `id`, or `None` for a special or out-of-range id.
    pub fn token(&self, id: u32) -> Option<Token> {
        if self.bar.get(id).is_some() {
            return Some(Token::Bar);
        }
        let small = |i: u32| i as u16;
        None.or_else(|| self.position.get(id).map(|i| Token::Position(small(i))))
            .or_else(|| self.pitch.get(id).map(|i| Token::Pitch(self.pitch_low + i as u8)))
            .or_else(|| self.velocity.get(id).map(|i| Token::Velocity(i as u8)))
            .or_else(|| self.duration.get(id).map(|i| Token::Duration(small(i + 1))))
            .or_else(|| self.time_shift.get(id).map(|i| Token::TimeShift(small(i + 1))))
            .or_else(|| self.tempo.get(id).map(|i| Token::Tempo(i as u8)))
            .or_else(|| self.time_sig.get(id).map(|i| Token::TimeSig(i as u8)))
            .or_else(|| self.program.get(id).map(|i| Token::Program(i as u8)))
    }

    /// The readable name of `token`, as in MidiTok (`Pitch_60`, `TimeSig_3/4`).
    pub fn name(&self, token: Token) -> String {
        let level = |values: &[u16], i: u8| values.get(usize::from(i)).copied().unwrap_or(0);
        match token {
            Token::Bar => "Bar".into(),
            Token::Position(p) => format!("Position_{p}"),
            Token::Pitch(p) => format!("Pitch_{p}"),
            Token::Velocity(v) => format!("Velocity_{}", self.velocities.get(usize::from(v)).copied().unwrap_or(0)),
            Token::Duration(d) => format!("Duration_{d}"),
            Token::TimeShift(d) => format!("TimeShift_{d}"),
            Token::Tempo(t) => format!("Tempo_{}", level(&self.tempos, t)),
            Token::TimeSig(s) => match self.meters.get(usize::from(s)) {
                Some(m) => format!("TimeSig_{}", String::from(*m)),
                None => "TimeSig_?".into(),
            },
            Token::Program(DRUMS) => "Program_-1".into(),
            Token::Program(p) => format!("Program_{p}"),
        }
    }

    /// The longest `Duration` and `TimeShift`, in grid steps.
    pub fn max_steps(&self) -> u16 {
        self.duration.len as u16
    }

    /// The velocity level closest to `velocity`.
    pub fn velocity_level(&self, velocity: u8) -> u8 {
        self.velocity_level[usize::from(velocity.min(127))]
    }

    /// The tempo level closest to `bpm`.
    pub fn tempo_level(&self, bpm: f64) -> u8 {
        let tempos: Vec<f64> = self.tempos.iter().map(|&t| f64::from(t)).collect();
        nearest(&tempos, bpm)
    }
}

/// `n` whole values spread evenly: up to `hi` in equal steps from `hi / n` when
/// `from_zero` (MidiTok's velocities), else from `lo` to `hi` inclusive.
fn levels(lo: f64, hi: f64, n: u8, from_zero: bool) -> Vec<f64> {
    let n = f64::from(n);
    (0..n as u32)
        .map(|i| {
            let i = f64::from(i);
            if from_zero {
                (hi * (i + 1.0) / n).round()
            } else if n > 1.0 {
                (lo + (hi - lo) * i / (n - 1.0)).round()
            } else {
                lo
            }
        })
        .collect()
}

/// `n` whole tempos from `lo` to `hi`, 120 bpm (the MIDI default, the most common
/// tempo) among them when it lies inside: evenly spaced from `lo` up to 120 and from
/// 120 up to `hi`, with 120 at the level where spacing over the whole range puts it.
fn tempo_levels(lo: f64, hi: f64, n: u8) -> Vec<f64> {
    let anchor = 60e6 / f64::from(DEFAULT_MICROS_PER_BEAT);
    if n < 3 || !(lo < anchor && anchor < hi) {
        return levels(lo, hi, n, false);
    }
    // Between 1 and n - 2, so that both parts keep their ends; each part is then spaced
    // by at least one whole tempo (the config has room for n whole tempos).
    let k = ((f64::from(n) - 1.0) * (anchor - lo) / (hi - lo)).round().clamp(1.0, f64::from(n) - 2.0) as u8;
    let mut tempos = levels(lo, anchor, k + 1, false);
    tempos.extend(levels(anchor, hi, n - k, false).into_iter().skip(1));
    tempos
}

/// Index of the value closest to `x` (the first on a tie; 0 when empty).
fn nearest(values: &[f64], x: f64) -> u8 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if (v - x).abs() < (values[best] - x).abs() {
            best = i;
        }
    }
    best as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_names_a_token_that_maps_back() {
        for scheme in [Scheme::Remi, Scheme::Tsd] {
            let vocab = Vocab::new(&MidiConfig { scheme, ..MidiConfig::default() });
            for id in 0..vocab.size {
                let token = vocab.token(id).unwrap();
                assert_eq!(vocab.id(token), Some(id), "{token:?}");
            }
            assert_eq!(vocab.token(vocab.size), None);
        }
    }

    #[test]
    fn tempo_levels_hold_120_and_stay_distinct() {
        for (lo, hi) in [(40, 250), (1, 130), (119, 250), (100, 121), (20, 400), (121, 300), (30, 120)] {
            for n in 1..=(hi - lo + 1).min(255) {
                let tempos = tempo_levels(f64::from(lo), f64::from(hi), n as u8);
                assert_eq!(tempos.len(), n as usize, "[{lo}, {hi}] in {n}");
                assert_eq!(tempos[0], f64::from(lo));
                assert!(tempos.windows(2).all(|w| w[0] < w[1]), "[{lo}, {hi}] in {n}: {tempos:?}");
                if n >= 2 {
                    assert_eq!(tempos[tempos.len() - 1], f64::from(hi));
                }
                if n >= 3 && (lo..=hi).contains(&120) {
                    assert!(tempos.contains(&120.0), "[{lo}, {hi}] in {n}: {tempos:?}");
                }
            }
        }
    }

    #[test]
    fn levels_are_spread_and_quantized_to_the_nearest() {
        let vocab = Vocab::new(&MidiConfig::default());
        assert_eq!(vocab.velocities.len(), 32);
        assert_eq!((vocab.velocities[0], vocab.velocities[31]), (4, 127));
        assert_eq!(vocab.velocities[usize::from(vocab.velocity_level(90))].abs_diff(90), 1);
        assert_eq!((vocab.tempos[0], vocab.tempos[31]), (40, 250));
        assert_eq!(vocab.tempos[usize::from(vocab.tempo_level(1000.0))], 250);
        for bpm in [60, 80, 100, 120] {
            assert_eq!(vocab.tempos[usize::from(vocab.tempo_level(f64::from(bpm)))], bpm);
        }
        assert_eq!(vocab.name(Token::Program(DRUMS)), "Program_-1");
        assert_eq!(vocab.name(Token::TimeSig(8)), "TimeSig_6/8");
    }
}
