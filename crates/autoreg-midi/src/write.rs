//! Writing a [`Score`] as a Standard MIDI File (format 1).

use crate::score::Score;
use autoreg_tokens::TokenError;
use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

/// An event at an absolute tick; `order` ranks events at one tick (offs, programs, ons).
type Timed<'a> = (u64, u8, TrackEventKind<'a>);

impl Score {
    /// Writes the score as a format 1 MIDI file: a first track with the tempo and
    /// time-signature maps, then one track per channel with its program changes and
    /// paired note-on/note-off events. The notes are [`Score::playable_notes`], so no
    /// note-on ever arrives for a pitch already sounding on its channel: a duplicate
    /// at one tick is dropped, and a re-onset ends the sounding note at the same tick
    /// (its note-off is written before the new note-on).
    pub fn to_midi(&self) -> Result<Vec<u8>, TokenError> {
        let fail = |reason: String| TokenError::format("MIDI output", reason);
        let tpb = u15::try_from(self.ticks_per_beat)
            .filter(|t| t.as_int() > 0)
            .ok_or_else(|| fail(format!("{} ticks per beat is outside 1..=32767", self.ticks_per_beat)))?;
        let mut conductor: Vec<Timed> = Vec::new();
        for sig in &self.time_signatures {
            let power = sig.denominator.max(1).ilog2() as u8;
            conductor.push((
                sig.tick,
                0,
                TrackEventKind::Meta(MetaMessage::TimeSignature(sig.numerator, power, 24, 8)),
            ));
        }
        for tempo in &self.tempos {
            let micros = u24::from(tempo.micros_per_beat.clamp(1, u24::max_value().as_int()));
            conductor.push((tempo.tick, 0, TrackEventKind::Meta(MetaMessage::Tempo(micros))));
        }
        let mut tracks = vec![timed_track(conductor).map_err(fail)?];
        let notes = self.playable_notes();
        for channel in 0..16u8 {
            let mut events: Vec<Timed> = Vec::new();
            let mut program = None;
            for note in notes.iter().filter(|n| n.channel == channel) {
                let ch = u4::from(channel);
                if program != Some(note.program) {
                    program = Some(note.program);
                    let message = MidiMessage::ProgramChange { program: u7::from(note.program.min(127)) };
                    events.push((note.start, 1, TrackEventKind::Midi { channel: ch, message }));
                }
                let key = u7::from(note.pitch.min(127));
                let vel = u7::from(note.velocity.clamp(1, 127));
                events.push((
                    note.start,
                    2,
                    TrackEventKind::Midi { channel: ch, message: MidiMessage::NoteOn { key, vel } },
                ));
                let off = MidiMessage::NoteOff { key, vel: u7::from(0) };
                events.push((note.start + note.duration.max(1), 0, TrackEventKind::Midi { channel: ch, message: off }));
            }
            if !events.is_empty() {
                tracks.push(timed_track(events).map_err(fail)?);
            }
        }
        let smf = Smf { header: Header::new(Format::Parallel, Timing::Metrical(tpb)), tracks };
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).map_err(|e| fail(e.to_string()))?;
        Ok(bytes)
    }
}

/// Sorts events by tick and rank (stable, so notes keep their order) and turns them
/// into delta-timed track events ending with End of Track.
fn timed_track(mut events: Vec<Timed>) -> Result<Vec<TrackEvent>, String> {
    events.sort_by_key(|&(tick, order, _)| (tick, order));
    let mut last = 0;
    let mut track = Vec::with_capacity(events.len() + 1);
    for (tick, _, kind) in events {
        let delta = u28::try_from(u32::try_from(tick - last).unwrap_or(u32::MAX))
            .ok_or_else(|| format!("a gap of {} ticks between events is too long for MIDI", tick - last))?;
        track.push(TrackEvent { delta, kind });
        last = tick;
    }
    track.push(TrackEvent { delta: u28::from(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    Ok(track)
}
