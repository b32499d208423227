//! Reading Standard MIDI Files (formats 0, 1 and 2) into a [`Score`].

use crate::score::{Note, Score, Tempo, TimeSignature};
use autoreg_tokens::TokenError;
use midly::{Format, MetaMessage, MidiMessage, Timing, TrackEventKind};
use std::collections::{HashMap, VecDeque};

/// One timed event of interest, gathered from every track.
struct Event {
    tick: u64,
    track: usize,
    kind: EventKind,
}

enum EventKind {
    On { channel: u8, key: u8, velocity: u8 },
    Off { channel: u8, key: u8 },
    Program { channel: u8, program: u8 },
    Tempo(u32),
    TimeSignature { numerator: u8, denominator: u8 },
}

impl Score {
    /// Reads a Standard MIDI File. `name` identifies the input in errors.
    ///
    /// Accepts formats 0, 1 and 2 (format 2 tracks play one after another), running
    /// status (also across meta and SysEx events), note-on with velocity 0 as note-off
    /// and overlapping notes of one pitch (paired first in, first out). A note still on
    /// at the end of its track ends there. Rejects SMPTE time division, truncated or
    /// malformed data, and files without notes.
    pub fn from_midi(bytes: &[u8], name: &str) -> Result<Score, TokenError> {
        let fail = |reason: String| TokenError::format(name, reason);
        if bytes.is_empty() {
            return Err(fail("the file is empty".into()));
        }
        check_chunks(bytes).map_err(fail)?;
        let (header, tracks) = midly::parse(bytes).map_err(|e| fail(format!("not a valid MIDI file: {e}")))?;
        let ticks_per_beat = match header.timing {
            Timing::Metrical(t) if t.as_int() > 0 => t.as_int(),
            Timing::Metrical(_) => return Err(fail("the time division is 0 ticks per beat".into())),
            Timing::Timecode(fps, sub) => {
                return Err(fail(format!(
                    "SMPTE time division ({} frames per second, {sub} ticks per frame) is not supported; \
                     only ticks per beat",
                    fps.as_int()
                )));
            }
        };
        let (mut events, mut ends) = (Vec::new(), Vec::new());
        for (index, track) in tracks.enumerate() {
            let track = track.map_err(|e| fail(format!("track {index}: {e}")))?;
            let offset = if header.format == Format::Sequential { ends.last().copied().unwrap_or(0) } else { 0 };
            ends.push(read_track(track, index, offset, &mut events).map_err(fail)?);
        }
        // Program changes first among events at one tick, so that they apply to notes there.
        events.sort_by_key(|e| (e.tick, !matches!(e.kind, EventKind::Program { .. }), e.track));
        let score = assemble(ticks_per_beat, &events, &ends);
        if score.notes.is_empty() {
            return Err(fail("the file holds no notes".into()));
        }
        Ok(score)
    }
}

/// Checks the chunk structure: a header chunk, then chunks that fit in the file, as
/// many tracks as the header declares.
fn check_chunks(bytes: &[u8]) -> Result<(), String> {
    if bytes.starts_with(b"RIFF") {
        return Ok(());
    }
    if !bytes.starts_with(b"MThd") {
        return Err("not a MIDI file: it does not start with \"MThd\"".into());
    }
    let (mut pos, mut tracks, mut declared) = (0usize, 0usize, None);
    while pos < bytes.len() {
        let Some(head) = bytes.get(pos..pos + 8) else {
            return Err(format!("truncated: a chunk header at byte {pos} is cut short"));
        };
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let left = bytes.len() - pos - 8;
        if len > left {
            let what = String::from_utf8_lossy(&head[..4]).into_owned();
            return Err(format!("truncated: chunk {what:?} at byte {pos} declares {len} bytes but {left} remain"));
        }
        match &head[..4] {
            b"MThd" if pos == 0 && len >= 6 => declared = Some(u16::from_be_bytes([bytes[10], bytes[11]]) as usize),
            b"MThd" => return Err(format!("malformed header chunk at byte {pos}")),
            b"MTrk" => tracks += 1,
            _ => {}
        }
        pos += 8 + len;
    }
    match declared {
        Some(n) if tracks < n => Err(format!("truncated: the header declares {n} tracks but {tracks} are present")),
        _ => Ok(()),
    }
}

/// Reads the events of one track, starting at tick `offset`; returns the tick at its end.
fn read_track(mut iter: midly::EventIter, track: usize, offset: u64, out: &mut Vec<Event>) -> Result<u64, String> {
    let total = iter.unread().len();
    let (mut tick, mut status) = (offset, None);
    loop {
        let left = iter.unread().len();
        let Some(event) = iter.next() else {
            if left > 0 {
                return Err(format!("track {track}: malformed event at byte {} of the track", total - left));
            }
            return Ok(tick);
        };
        let event = event.map_err(|e| format!("track {track}: {e}"))?;
        tick += u64::from(event.delta.as_int());
        let kind = match event.kind {
            TrackEventKind::Midi { channel, message } => {
                status = iter.running_status();
                midi_event(channel.as_int(), message)
            }
            TrackEventKind::Meta(meta) => {
                // Many files keep running status across meta and SysEx events: allow it.
                *iter.running_status_mut() = status;
                match meta {
                    MetaMessage::Tempo(t) if t.as_int() > 0 => Some(EventKind::Tempo(t.as_int())),
                    MetaMessage::TimeSignature(numerator, power, _, _) if numerator > 0 && power < 8 => {
                        Some(EventKind::TimeSignature { numerator, denominator: 1 << power })
                    }
                    MetaMessage::EndOfTrack => return Ok(tick),
                    _ => None,
                }
            }
            TrackEventKind::SysEx(_) | TrackEventKind::Escape(_) => {
                *iter.running_status_mut() = status;
                None
            }
        };
        out.extend(kind.map(|kind| Event { tick, track, kind }));
    }
}

fn midi_event(channel: u8, message: MidiMessage) -> Option<EventKind> {
    match message {
        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
            Some(EventKind::On { channel, key: key.as_int(), velocity: vel.as_int() })
        }
        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
            Some(EventKind::Off { channel, key: key.as_int() })
        }
        MidiMessage::ProgramChange { program } => Some(EventKind::Program { channel, program: program.as_int() }),
        _ => None,
    }
}

/// Pairs note-ons with note-offs (per track, channel and key, first in first out) and
/// collects the tempo and time-signature maps. A note left on ends where its track ends
/// (`ends[track]`).
fn assemble(ticks_per_beat: u16, events: &[Event], ends: &[u64]) -> Score {
    let mut score = Score { ticks_per_beat, ..Score::default() };
    let mut programs = [0u8; 16];
    let mut open: HashMap<(usize, u8, u8), VecDeque<usize>> = HashMap::new();
    for event in events {
        match event.kind {
            EventKind::On { channel, key, velocity } => {
                open.entry((event.track, channel, key)).or_default().push_back(score.notes.len());
                let program = programs[usize::from(channel & 15)];
                score.notes.push(Note { start: event.tick, duration: 0, pitch: key, velocity, program, channel });
            }
            EventKind::Off { channel, key } => {
                if let Some(index) = open.get_mut(&(event.track, channel, key)).and_then(VecDeque::pop_front) {
                    let note = &mut score.notes[index];
                    note.duration = event.tick - note.start;
                }
            }
            EventKind::Program { channel, program } => programs[usize::from(channel & 15)] = program,
            EventKind::Tempo(micros_per_beat) => score.tempos.push(Tempo { tick: event.tick, micros_per_beat }),
            EventKind::TimeSignature { numerator, denominator } => {
                score.time_signatures.push(TimeSignature { tick: event.tick, numerator, denominator })
            }
        }
    }
    for ((track, ..), left) in open {
        let end = ends.get(track).copied().unwrap_or(0);
        for index in left {
            let note = &mut score.notes[index];
            note.duration = end.saturating_sub(note.start);
        }
    }
    score.notes.sort_by_key(|n| (n.start, n.pitch, n.channel, n.duration));
    score
}
