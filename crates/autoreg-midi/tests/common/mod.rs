//! Helpers shared by the integration tests.
#![allow(dead_code)]

use midly::num::{u4, u7, u15, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::path::PathBuf;

/// A data folder under the first data root that holds it ([`autoreg_data::find_data`]:
/// the shared data root, else the copy the project carries). Missing data fails the test.
pub fn data_dir(sub: &str) -> PathBuf {
    let dir = autoreg_data::find_data(sub).unwrap_or_else(|e| panic!("{e}"));
    assert!(dir.is_dir(), "{} is not a folder", dir.display());
    dir
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
