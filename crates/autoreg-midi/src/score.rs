//! Plain musical data: notes, tempo and time-signature changes, in MIDI ticks.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// MIDI channel 10 (index 9), reserved for drums by General MIDI.
pub const DRUM_CHANNEL: u8 = 9;

/// Tempo used when a file sets none: 120 beats per minute.
pub const DEFAULT_MICROS_PER_BEAT: u32 = 500_000;

/// One note, in ticks of its [`Score`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Onset, in ticks from the start.
    pub start: u64,
    /// Length in ticks.
    pub duration: u64,
    /// MIDI key number, 0..=127 (60 is middle C).
    pub pitch: u8,
    /// Note-on velocity, 1..=127.
    pub velocity: u8,
    /// General MIDI program (instrument), 0..=127, of the channel when the note starts.
    pub program: u8,
    /// MIDI channel, 0..=15; [`DRUM_CHANNEL`] is drums.
    pub channel: u8,
}

impl Note {
    /// Tick at which the note ends.
    pub fn end(&self) -> u64 {
        self.start + self.duration
    }

    /// Whether the note is a drum hit (channel 10).
    pub fn is_drum(&self) -> bool {
        self.channel == DRUM_CHANNEL
    }
}

/// A tempo change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tempo {
    /// Tick from which it holds.
    pub tick: u64,
    /// Microseconds per beat (quarter note).
    pub micros_per_beat: u32,
}

impl Tempo {
    /// The tempo in beats per minute.
    pub fn bpm(&self) -> f64 {
        60_000_000.0 / f64::from(self.micros_per_beat.max(1))
    }
}

/// A time-signature change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignature {
    /// Tick from which it holds.
    pub tick: u64,
    /// Beats in a bar (the 3 of 3/4).
    pub numerator: u8,
    /// Note value of a beat (the 4 of 3/4): a power of two.
    pub denominator: u8,
}

/// A piece of music: notes and the tempo and time-signature maps, in ticks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Ticks per beat (quarter note).
    pub ticks_per_beat: u16,
    /// Notes, sorted by onset.
    pub notes: Vec<Note>,
    /// Tempo changes, sorted by tick.
    pub tempos: Vec<Tempo>,
    /// Time-signature changes, sorted by tick.
    pub time_signatures: Vec<TimeSignature>,
}

impl Score {
    /// Tick at which the last note ends (0 without notes).
    pub fn end(&self) -> u64 {
        self.notes.iter().map(Note::end).max().unwrap_or(0)
    }

    /// Seconds from the start to `tick`, following the tempo map.
    pub fn seconds_at(&self, tick: u64) -> f64 {
        let tpb = f64::from(self.ticks_per_beat.max(1));
        let (mut seconds, mut last_tick, mut micros) = (0.0, 0u64, DEFAULT_MICROS_PER_BEAT);
        for tempo in self.tempos.iter().take_while(|t| t.tick < tick) {
            seconds += (tempo.tick - last_tick) as f64 / tpb * f64::from(micros) / 1e6;
            last_tick = tempo.tick;
            micros = tempo.micros_per_beat;
        }
        seconds + (tick - last_tick) as f64 / tpb * f64::from(micros) / 1e6
    }

    /// The notes as a player can sound them: sorted by onset, with at most one note of
    /// a pitch sounding on a channel at a time. A note that repeats a pitch already
    /// starting at the same tick on the same channel is a duplicate and is dropped (the
    /// first one stays, held as long as the longer of the two); a new onset of a pitch
    /// still sounding from an earlier tick cuts the earlier note there. A note of no
    /// length counts as one tick long, as the MIDI writer writes it.
    pub fn playable_notes(&self) -> Vec<Note> {
        let mut notes = self.notes.clone();
        notes.sort_by_key(|n| n.start);
        // The kept note last started for each channel and pitch.
        let mut last: HashMap<(u8, u8), usize> = HashMap::new();
        let mut kept: Vec<Note> = Vec::with_capacity(notes.len());
        for note in notes {
            if let Some(&i) = last.get(&(note.channel, note.pitch)) {
                let sounding = &mut kept[i];
                if sounding.start == note.start {
                    sounding.duration = sounding.duration.max(note.duration);
                    continue;
                }
                if sounding.start + sounding.duration.max(1) > note.start {
                    sounding.duration = note.start - sounding.start;
                }
            }
            last.insert((note.channel, note.pitch), kept.len());
            kept.push(note);
        }
        kept
    }

    /// Ticks at which bars start, up to `end`, following the time-signature map
    /// (a change takes effect at the first bar line at or after it; 4/4 before any).
    pub fn bar_ticks(&self, end: u64) -> impl Iterator<Item = u64> + '_ {
        let tpb = u64::from(self.ticks_per_beat.max(1));
        let bar_len = move |sig: Option<&TimeSignature>| {
            sig.map_or(4 * tpb, |s| (u64::from(s.numerator) * 4 * tpb / u64::from(s.denominator.max(1))).max(1))
        };
        let (mut tick, mut next, mut sig) = (0u64, 0usize, None);
        std::iter::from_fn(move || {
            if tick > end {
                return None;
            }
            while let Some(s) = self.time_signatures.get(next).filter(|s| s.tick <= tick) {
                sig = Some(s);
                next += 1;
            }
            let bar = tick;
            tick += bar_len(sig);
            Some(bar)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score() -> Score {
        Score {
            ticks_per_beat: 100,
            notes: vec![],
            tempos: vec![Tempo { tick: 0, micros_per_beat: 500_000 }, Tempo { tick: 200, micros_per_beat: 1_000_000 }],
            time_signatures: vec![
                TimeSignature { tick: 0, numerator: 3, denominator: 4 },
                TimeSignature { tick: 300, numerator: 6, denominator: 8 },
            ],
        }
    }

    #[test]
    fn seconds_follow_the_tempo_map() {
        let s = score();
        assert!((s.seconds_at(200) - 1.0).abs() < 1e-9);
        assert!((s.seconds_at(300) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn bars_follow_the_time_signatures() {
        assert_eq!(score().bar_ticks(700).collect::<Vec<_>>(), vec![0, 300, 600]);
        assert_eq!(Score { ticks_per_beat: 10, ..Score::default() }.bar_ticks(80).collect::<Vec<_>>(), vec![0, 40, 80]);
    }
}
