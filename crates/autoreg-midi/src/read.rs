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
    /// Reads a Standard MIDI File strictly. `name` identifies the input in errors.
    ///
    /// Accepts formats 0, 1 and 2 (format 2 tracks play one after another), running
    /// status (also across meta and SysEx events), note-on with velocity 0 as note-off
    /// and overlapping notes of one pitch (paired first in, first out). A note still on
    /// at the end of its track ends there. Rejects SMPTE time division, truncated or
    /// malformed data, and files without notes.
    pub fn from_midi(bytes: &[u8], name: &str) -> Result<Score, TokenError> {
        Ok(Score::read_midi(bytes, name, true)?.0)
    }

    /// Reads a Standard MIDI File like [`Score::from_midi`]; unless `strict`, a damaged
    /// file (a truncated track, a malformed event, missing tracks) keeps what comes
    /// before the damage, which the second value describes.
    pub(crate) fn read_midi(bytes: &[u8], name: &str, strict: bool) -> Result<(Score, Option<String>), TokenError> {
        let fail = |reason: String| TokenError::format(name, reason);
        if bytes.is_empty() {
            return Err(fail("the file is empty".into()));
        }
        let chunks = scan_chunks(bytes).map_err(fail)?;
        if strict && let Some(flaw) = chunks.flaws.first() {
            return Err(fail(flaw.error()));
        }
        if let Some(at) = smpte_minus_128(bytes) {
            return Err(fail(format!("the header chunk at byte {at} gives an SMPTE rate of -128 frames per second")));
        }
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
        let (mut events, mut ends, mut damage) = (Vec::new(), Vec::new(), Vec::new());
        for (index, track) in tracks.enumerate() {
            let track = track.map_err(|e| fail(format!("track {index}: {e}")))?;
            let offset = if header.format == Format::Sequential { ends.last().copied().unwrap_or(0) } else { 0 };
            let read = read_track(track, index, offset, &mut events).map_err(fail)?;
            ends.push(read.end);
            let truncated = chunks.flaws.iter().find_map(|f| match *f {
                Flaw::Truncated { track: Some(t), declared, left, .. } if t == index => Some((declared, left)),
                _ => None,
            });
            match (truncated, read.malformed_at) {
                (Some((declared, left)), _) => damage.push(format!(
                    "track {index} is truncated (declares {declared} bytes, {left} remain): {}",
                    kept(read.events)
                )),
                (None, Some(at)) if strict => {
                    return Err(fail(format!("track {index}: malformed event at byte {at} of the track")));
                }
                (None, Some(at)) => {
                    damage.push(format!("track {index} has a malformed event at byte {at}: {}", kept(read.events)))
                }
                (None, None) => {}
            }
        }
        damage.extend(chunks.flaws.iter().filter_map(Flaw::warning));
        if let Some(declared) = chunks.declared.filter(|&n| ends.len() < n) {
            let missing = format!("the header declares {declared} tracks but {} are present", ends.len());
            if strict {
                return Err(fail(format!("truncated: {missing}")));
            }
            damage.push(missing);
        }
        // Program changes first among events at one tick, so that they apply to notes there.
        events.sort_by_key(|e| (e.tick, !matches!(e.kind, EventKind::Program { .. }), e.track));
        let score = assemble(ticks_per_beat, &events, &ends);
        let damage = (!damage.is_empty()).then(|| damage.join("; "));
        if score.notes.is_empty() {
            return Err(fail(match damage {
                Some(damage) => format!("the file holds no notes before the damage: {damage}"),
                None => "the file holds no notes".into(),
            }));
        }
        Ok((score, damage))
    }
}

/// The byte of a header chunk whose time division has the SMPTE byte 0x80, if any.
/// midly 0.5.3 negates that byte as an `i8`, which overflows (a panic in debug builds),
/// so such a file is refused before midly reads it. Every `MThd` is looked at, as midly
/// reads a header chunk wherever one starts, inside an RMID wrapper too.
fn smpte_minus_128(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).enumerate().find_map(|(at, w)| (w == b"MThd" && bytes.get(at + 12) == Some(&0x80)).then_some(at))
}

/// "kept its first 812 events", for a damaged track of which `events` were read.
fn kept(events: usize) -> String {
    match events {
        0 => "kept none of its events".into(),
        1 => "kept its first event".into(),
        n => format!("kept its first {n} events"),
    }
}

/// The chunk structure of a file, as far as midly reads it.
struct Chunks {
    /// Number of tracks the header declares.
    declared: Option<usize>,
    /// What midly reads past (in its default, lenient mode), in file order.
    flaws: Vec<Flaw>,
}

/// A flaw in the chunk structure that midly reads past: it takes a truncated chunk to
/// the end of the file and ignores a cut chunk header and further header chunks.
enum Flaw {
    /// A chunk declares more bytes than remain; `track` is its index if it is a track.
    Truncated { id: String, at: usize, declared: usize, left: usize, track: Option<usize> },
    /// The file ends inside the chunk header at this byte.
    CutHeader { at: usize },
    /// A header chunk other than the first, at this byte.
    ExtraHeader { at: usize },
}

impl Flaw {
    /// The error that strict reading gives.
    fn error(&self) -> String {
        match self {
            Flaw::Truncated { id, at, declared, left, .. } => {
                format!("truncated: chunk {id:?} at byte {at} declares {declared} bytes but {left} remain")
            }
            Flaw::CutHeader { at } => format!("truncated: a chunk header at byte {at} is cut short"),
            Flaw::ExtraHeader { at } => format!("malformed header chunk at byte {at}"),
        }
    }

    /// What lenient reading says about it; `None` for a truncated track, which the
    /// track's own report describes.
    fn warning(&self) -> Option<String> {
        match self {
            Flaw::Truncated { track: Some(_), .. } => None,
            Flaw::Truncated { id, at, declared, left, track: None } => {
                Some(format!("chunk {id:?} at byte {at} is truncated (declares {declared} bytes, {left} remain)"))
            }
            Flaw::CutHeader { at } => Some(format!("the file ends inside a chunk header at byte {at}")),
            Flaw::ExtraHeader { at } => Some(format!("a second header chunk at byte {at} was ignored")),
        }
    }
}

/// Scans the chunks: a header chunk, then chunks that should fit in the file. A damaged
/// header chunk is an error; other damage is listed. A RIFF (RMID) file is left to midly.
fn scan_chunks(bytes: &[u8]) -> Result<Chunks, String> {
    let mut chunks = Chunks { declared: None, flaws: Vec::new() };
    if bytes.starts_with(b"RIFF") {
        return Ok(chunks);
    }
    if !bytes.starts_with(b"MThd") {
        return Err("not a MIDI file: it does not start with \"MThd\"".into());
    }
    let (mut pos, mut tracks) = (0usize, 0usize);
    while pos < bytes.len() {
        let Some(head) = bytes.get(pos..pos + 8) else {
            let flaw = Flaw::CutHeader { at: pos };
            if pos == 0 {
                return Err(flaw.error());
            }
            chunks.flaws.push(flaw);
            break;
        };
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let left = bytes.len() - pos - 8;
        let is_track = &head[..4] == b"MTrk";
        if len > left {
            let id = String::from_utf8_lossy(&head[..4]).into_owned();
            let flaw = Flaw::Truncated { id, at: pos, declared: len, left, track: is_track.then_some(tracks) };
            if pos == 0 {
                return Err(flaw.error());
            }
            chunks.flaws.push(flaw);
            break;
        }
        match &head[..4] {
            b"MThd" if pos == 0 && len >= 6 => {
                chunks.declared = Some(usize::from(u16::from_be_bytes([bytes[10], bytes[11]])))
            }
            b"MThd" if pos == 0 => return Err(Flaw::ExtraHeader { at: 0 }.error()),
            b"MThd" => chunks.flaws.push(Flaw::ExtraHeader { at: pos }),
            _ => tracks += usize::from(is_track),
        }
        pos += 8 + len;
    }
    Ok(chunks)
}

/// How one track was read.
struct TrackRead {
    /// The tick at its end.
    end: u64,
    /// How many events were read.
    events: usize,
    /// Byte (within the track) of the malformed event where reading stopped, if any.
    malformed_at: Option<usize>,
}

/// Reads the events of one track, starting at tick `offset`, up to its end or its
/// first malformed event.
/// The first track name that is not blank, in any track, as the piece's title; `None`
/// when there is none or the file does not parse.
pub(crate) fn track_name(bytes: &[u8]) -> Option<String> {
    let (_, tracks) = midly::parse(bytes).ok()?;
    tracks.flatten().flat_map(|track| track.flatten()).find_map(|event| match event.kind {
        TrackEventKind::Meta(MetaMessage::TrackName(name)) => {
            let name = String::from_utf8_lossy(name).trim().to_owned();
            (!name.is_empty()).then_some(name)
        }
        _ => None,
    })
}

fn read_track(
    mut iter: midly::EventIter,
    track: usize,
    offset: u64,
    out: &mut Vec<Event>,
) -> Result<TrackRead, String> {
    let total = iter.unread().len();
    let (mut tick, mut status, mut events) = (offset, None, 0);
    loop {
        let left = iter.unread().len();
        let Some(event) = iter.next() else {
            let malformed_at = (left > 0).then_some(total - left);
            return Ok(TrackRead { end: tick, events, malformed_at });
        };
        let event = event.map_err(|e| format!("track {track}: {e}"))?;
        events += 1;
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
                    MetaMessage::EndOfTrack => return Ok(TrackRead { end: tick, events, malformed_at: None }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use midly::num::{u15, u28};
    use midly::{Header, Smf, TrackEvent};

    /// A file of one track per name, each holding only its track name.
    fn with_names(names: &[&'static [u8]]) -> Vec<u8> {
        let event = |kind| TrackEvent { delta: u28::from(0), kind };
        let tracks = names
            .iter()
            .map(|&n| {
                let name = event(TrackEventKind::Meta(MetaMessage::TrackName(n)));
                vec![name, event(TrackEventKind::Meta(MetaMessage::EndOfTrack))]
            })
            .collect();
        let smf = Smf { header: Header::new(Format::Parallel, Timing::Metrical(u15::from(96))), tracks };
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn the_title_is_the_first_track_name_that_is_not_blank() {
        assert_eq!(track_name(&with_names(&[b"  ", b"Ashover 1 ", b"x"])).as_deref(), Some("Ashover 1"));
        assert_eq!(track_name(&with_names(&[b""])), None);
        assert_eq!(track_name(b"not midi"), None);
    }
}
