//! Helpers shared by the integration tests.
#![allow(dead_code)]

use midly::num::{u4, u7, u15, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::path::PathBuf;

/// A data folder: under `AUTOREG_DATA` when set, else `../../../shared/datasets`, else
/// the copy the project carries in `datasets/`. Missing data fails the test.
pub fn data_dir(sub: &str) -> PathBuf {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let roots = match std::env::var_os("AUTOREG_DATA") {
        Some(root) => vec![PathBuf::from(root)],
        None => vec![crate_dir.join("../../../shared/datasets"), crate_dir.join("../../datasets")],
    };
    let found = roots.iter().map(|r| r.join(sub)).find(|d| d.is_dir());
    found.unwrap_or_else(|| panic!("{sub} is missing from every data root ({roots:?}): set AUTOREG_DATA"))
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
