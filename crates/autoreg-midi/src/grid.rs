//! A [`Score`] quantized to the tokenizer's grid: notes, tempo levels and bars in grid steps.

use crate::config::{Meter, MidiConfig};
use crate::score::{DEFAULT_MICROS_PER_BEAT, Score, Tempo};
use crate::vocab::{DRUMS, Vocab};
use autoreg_tokens::TokenError;
use std::collections::HashMap;

/// Longest piece read or written, in beats (about 14 hours at 120 beats per minute).
pub(crate) const MAX_BEATS: u64 = 100_000;

/// A note on the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct GridNote {
    /// Onset in grid steps.
    pub step: u32,
    /// Program, or [`DRUMS`]; 0 when programs are off.
    pub program: u8,
    /// MIDI pitch.
    pub pitch: u8,
    /// Length in grid steps, 1..=max.
    pub duration: u16,
    /// Velocity level.
    pub velocity: u8,
}

/// A bar on the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BarLine {
    /// First step.
    pub start: u32,
    /// Length in steps.
    pub len: u32,
    /// Index of its time signature in the vocabulary, if time signatures are on.
    pub meter: Option<u8>,
}

/// The quantized piece.
#[derive(Clone, Debug)]
pub(crate) struct Grid {
    /// Notes sorted by onset, program, pitch, duration, velocity.
    pub notes: Vec<GridNote>,
    /// Tempo changes (step, level), sorted, the first at step 0; empty when tempos are off.
    pub tempos: Vec<(u32, u8)>,
    /// Bars from step 0 to the bar of the last onset.
    pub bars: Vec<BarLine>,
}

impl Grid {
    /// Quantizes `score`. `name` identifies the input in errors.
    pub fn new(score: &Score, config: &MidiConfig, vocab: &Vocab, name: &str) -> Result<Grid, TokenError> {
        let ppb = u128::from(config.positions_per_beat);
        let tpb = u128::from(score.ticks_per_beat.max(1));
        let max_steps = MAX_BEATS * u64::from(config.positions_per_beat);
        let step = |tick: u64| ((u128::from(tick) * ppb * 2 + tpb) / (2 * tpb)).min(u128::from(max_steps) + 1) as u32;
        let [lo, hi] = config.pitch_range;
        let mut notes: Vec<GridNote> = score
            .notes
            .iter()
            .filter(|n| (lo..=hi).contains(&n.pitch))
            .map(|n| GridNote {
                step: step(n.start),
                program: match (config.programs, n.is_drum()) {
                    (false, _) => 0,
                    (true, true) => DRUMS,
                    (true, false) => n.program.min(127),
                },
                pitch: n.pitch,
                duration: step(n.duration).clamp(1, u32::from(vocab.max_steps())) as u16,
                velocity: if vocab.velocities.is_empty() { 0 } else { vocab.velocity_level(n.velocity) },
            })
            .collect();
        notes.sort_unstable();
        if config.monophonic {
            skyline(&mut notes);
        } else {
            untangle(&mut notes);
        }
        let Some(last) = notes.last().map(|n| n.step) else {
            return Err(TokenError::format(name, format!("the file holds no notes in the pitch range {lo}..={hi}")));
        };
        if u64::from(last) > max_steps {
            return Err(TokenError::format(name, format!("the piece is longer than {MAX_BEATS} beats")));
        }
        let mut tempos: Vec<(u32, u8)> = Vec::new();
        if !vocab.tempos.is_empty() {
            let first = Tempo { tick: 0, micros_per_beat: DEFAULT_MICROS_PER_BEAT };
            for tempo in std::iter::once(&first).chain(&score.tempos) {
                let change = (step(tempo.tick), vocab.tempo_level(tempo.bpm()));
                match tempos.last_mut() {
                    Some(prev) if prev.0 == change.0 => *prev = change,
                    _ => tempos.push(change),
                }
            }
            tempos.dedup_by_key(|t| t.1);
        }
        let meters: Vec<(u32, u8)> = score
            .time_signatures
            .iter()
            .filter_map(|s| closest(&vocab.meters, s.numerator, s.denominator).map(|m| (step(s.tick), m)))
            .collect();
        let bar_steps = |meter: Option<u8>| {
            Meter::bar_steps(meter.and_then(|m| vocab.meters.get(usize::from(m))), config.positions_per_beat)
        };
        let (mut bars, mut start, mut next) = (Vec::new(), 0u32, 0usize);
        let mut meter = closest(&vocab.meters, 4, 4);
        while start <= last {
            while let Some(&(_, m)) = meters.get(next).filter(|c| c.0 <= start) {
                meter = Some(m);
                next += 1;
            }
            let len = bar_steps(meter).max(1);
            bars.push(BarLine { start, len, meter });
            start += len;
        }
        Ok(Grid { notes, tempos, bars })
    }
}

/// Leaves at most one note of a pitch sounding per program at a time, as the decoder
/// and the MIDI writer do (see [`Score::playable_notes`]), so that quantizing cannot
/// make notes that decode differently: of notes of one program and pitch at one step
/// the longest stays, and a note still sounding at the next onset of its program and
/// pitch is cut there. `notes` are sorted and stay so.
fn untangle(notes: &mut Vec<GridNote>) {
    let mut last: HashMap<(u8, u8), usize> = HashMap::new();
    let mut kept: Vec<GridNote> = Vec::with_capacity(notes.len());
    for note in notes.drain(..) {
        if let Some(&i) = last.get(&(note.program, note.pitch)) {
            let sounding = &mut kept[i];
            if sounding.step == note.step {
                // Sorted by duration within a step and pitch: this one is the longer.
                *sounding = note;
                continue;
            }
            let gap = note.step - sounding.step;
            if u32::from(sounding.duration) > gap {
                sounding.duration = gap as u16;
            }
        }
        last.insert((note.program, note.pitch), kept.len());
        kept.push(note);
    }
    *notes = kept;
}

/// Keeps the highest note of each onset and shortens notes that would overlap the next.
fn skyline(notes: &mut Vec<GridNote>) {
    notes.sort_unstable_by_key(|n| (n.step, std::cmp::Reverse(n.pitch)));
    notes.dedup_by_key(|n| n.step);
    for i in 1..notes.len() {
        let gap = notes[i].step - notes[i - 1].step;
        let prev = &mut notes[i - 1];
        prev.duration = prev.duration.min(gap.min(u32::from(u16::MAX)) as u16);
    }
}

/// Index of the time signature of `meters` equal to `numerator/denominator`, else the
/// one with the closest bar length; `None` when `meters` is empty.
fn closest(meters: &[Meter], numerator: u8, denominator: u8) -> Option<u8> {
    let wanted = Meter { numerator, denominator: denominator.max(1) };
    if let Some(i) = meters.iter().position(|&m| m == wanted) {
        return Some(i as u8);
    }
    let mut best: Option<(usize, f64)> = None;
    for (i, m) in meters.iter().enumerate() {
        let diff = (m.quarters() - wanted.quarters()).abs();
        if best.is_none_or(|(_, d)| diff < d) {
            best = Some((i, diff));
        }
    }
    best.map(|(i, _)| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{Note, TimeSignature};

    fn note(start: u64, duration: u64, pitch: u8) -> Note {
        Note { start, duration, pitch, velocity: 64, program: 0, channel: 0 }
    }

    #[test]
    fn monophonic_keeps_the_highest_note_and_cuts_overlaps() {
        let config = MidiConfig { monophonic: true, positions_per_beat: 4, ..MidiConfig::default() };
        let vocab = Vocab::new(&config);
        let score = Score {
            ticks_per_beat: 4,
            notes: vec![note(0, 8, 60), note(0, 8, 64), note(4, 4, 62)],
            ..Score::default()
        };
        let grid = Grid::new(&score, &config, &vocab, "t").unwrap();
        let kept: Vec<(u32, u8, u16)> = grid.notes.iter().map(|n| (n.step, n.pitch, n.duration)).collect();
        assert_eq!(kept, vec![(0, 64, 4), (4, 62, 4)]);
    }

    #[test]
    fn bars_change_meter_at_the_next_bar_line() {
        let config = MidiConfig { positions_per_beat: 1, ..MidiConfig::default() };
        let vocab = Vocab::new(&config);
        let sig = |tick, numerator, denominator| TimeSignature { tick, numerator, denominator };
        let score = Score {
            ticks_per_beat: 1,
            notes: vec![note(12, 1, 60)],
            time_signatures: vec![sig(0, 3, 4), sig(4, 7, 8)],
            ..Score::default()
        };
        let grid = Grid::new(&score, &config, &vocab, "t").unwrap();
        let starts: Vec<u32> = grid.bars.iter().map(|b| b.start).collect();
        // 7/8 is not listed: it maps to the first listed meter of closest bar length, 3/4.
        assert_eq!(starts, vec![0, 3, 6, 9, 12]);
        let meter = grid.bars[4].meter.map(|m| String::from(vocab.meters[usize::from(m)]));
        assert_eq!(meter.as_deref(), Some("3/4"));
    }
}
