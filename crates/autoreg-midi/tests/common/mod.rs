//! Helpers shared by the integration tests.
#![allow(dead_code)]

use midly::num::{u4, u7, u15, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::path::PathBuf;

/// A data folder under the first data root that holds it ([`autoreg_data::find_data`]:
/// `$AUTOREG_DATA` when set, else the copy the project carries). Missing data fails the test.
pub fn data_dir(sub: &str) -> PathBuf {
    let dir = autoreg_data::find_data(sub).unwrap_or_else(|e| panic!("{e}"));
    assert!(dir.is_dir(), "{} is not a folder", dir.display());
    dir
}

/// The Nottingham tunes with their accompaniment: `nottingham/full` under
/// `$AUTOREG_DATA`. The checkout carries only the melodies, so without it each carried
/// melody gets a second track made from it ([`with_harmony`]), in a folder made once per
/// test binary: two tracks, two notes at once, the same names and bars.
pub fn full_tunes() -> PathBuf {
    if autoreg_data::full_data_sets() {
        return data_dir("nottingham/full");
    }
    static MADE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let made = MADE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for file in midi_files(&data_dir("nottingham/melody")) {
            let bytes = with_harmony(&std::fs::read(&file).unwrap());
            std::fs::write(dir.path().join(file.file_name().unwrap()), bytes).unwrap();
        }
        dir
    });
    made.path().to_path_buf()
}

/// `melody` (a one-track file) with a second track on channel 1 that doubles each of its
/// notes at the same times, below the melody's lowest note, so that no pitch sounds in
/// both tracks at once (a note that would fall below A0, MIDI 21, is left out).
pub fn with_harmony(melody: &[u8]) -> Vec<u8> {
    let parsed = Smf::parse(melody).unwrap();
    let key_of = |kind: &TrackEventKind| match kind {
        TrackEventKind::Midi { message: MidiMessage::NoteOn { key, vel }, .. } => Some((key.as_int(), vel.as_int())),
        TrackEventKind::Midi { message: MidiMessage::NoteOff { key, .. }, .. } => Some((key.as_int(), 0)),
        _ => None,
    };
    let keys: Vec<u8> = parsed.tracks[0].iter().filter_map(|e| key_of(&e.kind)).map(|(k, _)| k).collect();
    let below = keys.iter().max().unwrap() - keys.iter().min().unwrap() + 1;
    let mut harmony = Vec::new();
    let mut delta = 0;
    for event in &parsed.tracks[0] {
        delta += event.delta.as_int();
        if let Some((key, vel)) = key_of(&event.kind).filter(|&(key, _)| key >= 21 + below) {
            harmony.push(note(delta, 1, key - below, vel));
            delta = 0;
        }
    }
    let melody_track: Vec<TrackEvent<'static>> = parsed.tracks[0]
        .iter()
        .filter(|e| !matches!(e.kind, TrackEventKind::Meta(MetaMessage::EndOfTrack)))
        .map(|e| e.to_static())
        .collect();
    let tpb = match parsed.header.timing {
        Timing::Metrical(tpb) => tpb.as_int(),
        Timing::Timecode(..) => panic!("a Nottingham melody has metrical timing"),
    };
    smf(Format::Parallel, tpb, vec![melody_track, harmony])
}

/// The `.mid` files of a folder, sorted.
pub fn midi_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    files
}

/// A note-on (or note-off when `vel` is 0) event.
pub fn note(delta: u32, channel: u8, key: u8, vel: u8) -> TrackEvent<'static> {
    TrackEvent {
        delta: u28::new(delta),
        kind: TrackEventKind::Midi {
            channel: u4::new(channel),
            message: MidiMessage::NoteOn { key: u7::new(key), vel: u7::new(vel) },
        },
    }
}

/// A meta event.
pub fn meta(delta: u32, message: MetaMessage<'static>) -> TrackEvent<'static> {
    TrackEvent { delta: u28::new(delta), kind: TrackEventKind::Meta(message) }
}

/// A program change.
pub fn program(delta: u32, channel: u8, program: u8) -> TrackEvent<'static> {
    TrackEvent {
        delta: u28::new(delta),
        kind: TrackEventKind::Midi {
            channel: u4::new(channel),
            message: MidiMessage::ProgramChange { program: u7::new(program) },
        },
    }
}

/// A MIDI file of `format` at `tpb` ticks per beat holding `tracks` (End of Track added).
pub fn smf(format: Format, tpb: u16, tracks: Vec<Vec<TrackEvent<'static>>>) -> Vec<u8> {
    let tracks = tracks
        .into_iter()
        .map(|mut t| {
            t.push(meta(0, MetaMessage::EndOfTrack));
            t
        })
        .collect();
    let smf = Smf { header: Header::new(format, Timing::Metrical(u15::new(tpb))), tracks };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).unwrap();
    bytes
}
