//! Reading odd and broken MIDI files: clear errors that name the file, or correct notes.

mod common;

use autoreg_midi::{MidiConfig, MidiTokenizer, Score};
use autoreg_tokens::{Modality, TokenError, testing::Tokenize};
use common::{meta, note, program, smf};
use midly::num::u24;
use midly::{Format, MetaMessage};

/// The error of encoding `bytes` (leniently, the default).
fn error(bytes: &[u8]) -> String {
    error_with(bytes, false)
}

/// The error of encoding `bytes`, strictly or not.
fn error_with(bytes: &[u8], strict: bool) -> String {
    let tok = MidiTokenizer::new(MidiConfig { strict, ..MidiConfig::default() }).unwrap();
    let err = tok.encode_bytes(bytes, "song.mid").unwrap_err();
    assert!(matches!(err, TokenError::Format { ref name, .. } if name == "song.mid"), "{err}");
    err.to_string()
}

fn two_notes() -> Vec<u8> {
    smf(
        Format::SingleTrack,
        96,
        vec![vec![note(0, 0, 60, 90), note(96, 0, 60, 0), note(0, 0, 64, 90), note(96, 0, 64, 0)]],
    )
}

#[test]
fn empty_file() {
    assert_eq!(error(b""), "song.mid: the file is empty");
}

#[test]
fn random_bytes() {
    let bytes: Vec<u8> = (0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert!(error(&bytes).contains("not a MIDI file"));
}

#[test]
fn truncated_file() {
    let bytes = two_notes();
    let cut = &bytes[..bytes.len() - 5];
    let err = error_with(cut, true);
    assert!(err.contains("truncated") && err.contains("\"MTrk\""), "{err}");
    // Leniently, both notes are kept: the cut is inside the last note-off.
    let tok = MidiTokenizer::new(MidiConfig::default()).unwrap();
    let docs = tok.encode_bytes(cut, "song.mid").unwrap();
    assert_eq!(docs.iter().map(|d| tok.count_units(d)).sum::<usize>(), 2);
    // Cut inside the header chunk: nothing to recover.
    for strict in [false, true] {
        assert!(error_with(&bytes[..10], strict).contains("truncated"));
    }
}

#[test]
fn corrupt_event() {
    let mut bytes = two_notes();
    // The first event's status byte (after 14 header bytes, 8 track header bytes and a
    // delta): 0xF4 is a system common message, not allowed in a file.
    bytes[23] = 0xF4;
    let err = error_with(&bytes, true);
    assert!(err.contains("track 0: malformed event at byte 0"), "{err}");
    let err = error(&bytes);
    assert!(
        err.contains("holds no notes before the damage: track 0 has a malformed event at byte 0: kept none"),
        "{err}"
    );
}

#[test]
fn file_without_notes() {
    let bytes = smf(Format::SingleTrack, 96, vec![vec![meta(0, MetaMessage::Tempo(u24::new(500_000)))]]);
    assert_eq!(error(&bytes), "song.mid: the file holds no notes");
    // Notes outside the pitch range do not count.
    let high = smf(Format::SingleTrack, 96, vec![vec![note(0, 0, 120, 90), note(96, 0, 120, 0)]]);
    assert!(error(&high).contains("no notes in the pitch range 21..=108"));
}

#[test]
fn smpte_timing() {
    let mut bytes = two_notes();
    // Division: top bit set, -25 frames per second, 40 ticks per frame.
    bytes[12] = (-25i8) as u8;
    bytes[13] = 40;
    let err = error(&bytes);
    assert!(err.contains("SMPTE time division (25 frames per second, 40 ticks per frame)"), "{err}");
    // -128 frames per second: midly would overflow negating it; a clear error instead,
    // in the first header chunk or in a second one.
    bytes[12] = 0x80;
    assert!(error(&bytes).contains("header chunk at byte 0 gives an SMPTE rate of -128"), "{}", error(&bytes));
    let mut second = two_notes();
    second.extend(b"MThd\0\0\0\x06\0\0\0\x01\x80\x10");
    for strict in [false, true] {
        let err = error_with(&second, strict);
        assert!(err.contains(&format!("header chunk at byte {}", two_notes().len())), "{err}");
    }
}

#[test]
fn running_status_across_meta_events_is_read() {
    // Note on C4, then a meta event (a marker), then data bytes with no status: the
    // note-on status is still running, as many files assume.
    let mut track = vec![0x00, 0x90, 60, 90, 0x00, 0xFF, 0x06, 0x01, b'x', 0x60, 60, 0, 0x00, 64, 90, 0x60, 64, 0];
    track.extend([0x00, 0xFF, 0x2F, 0x00]);
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk".to_vec();
    bytes.extend((track.len() as u32).to_be_bytes());
    bytes.extend(track);
    let score = Score::from_midi(&bytes, "rs.mid").unwrap();
    let notes: Vec<(u64, u64, u8)> = score.notes.iter().map(|n| (n.start, n.duration, n.pitch)).collect();
    assert_eq!(notes, vec![(0, 96, 60), (96, 96, 64)]);
}

#[test]
fn formats_channels_drums_and_maps() {
    // Format 1: a conductor track with tempo and a 3/4 → 6/8 change; a violin track on
    // channel 1 with overlapping notes of one pitch; drums on channel 10.
    let conductor = vec![
        meta(0, MetaMessage::Tempo(u24::new(400_000))),
        meta(0, MetaMessage::TimeSignature(3, 2, 24, 8)),
        meta(288, MetaMessage::TimeSignature(6, 3, 24, 8)),
    ];
    let violin =
        vec![program(0, 1, 40), note(0, 1, 67, 80), note(48, 1, 67, 70), note(48, 1, 67, 0), note(48, 1, 67, 0)];
    let drums = vec![note(0, 9, 36, 100), note(24, 9, 36, 0)];
    let bytes = smf(Format::Parallel, 96, vec![conductor, violin, drums]);
    let score = Score::from_midi(&bytes, "f1.mid").unwrap();
    let notes: Vec<(u64, u64, u8, u8, u8)> =
        score.notes.iter().map(|n| (n.start, n.duration, n.pitch, n.program, n.channel)).collect();
    // First in, first out: the first C is closed by the first note-off.
    assert_eq!(notes, vec![(0, 24, 36, 0, 9), (0, 96, 67, 40, 1), (48, 96, 67, 40, 1)]);
    assert_eq!(score.tempos[0].micros_per_beat, 400_000);
    assert_eq!(score.time_signatures.len(), 2);

    let tok = MidiTokenizer::new(MidiConfig::default()).unwrap();
    let doc = &tok.encode_bytes(&bytes, "f1.mid").unwrap()[0];
    let names: Vec<String> = doc.iter().map(|&t| tok.token_name(t).unwrap()).collect();
    // The first G ends where it is struck again, half a beat in.
    assert_eq!(
        names[..12].join(" "),
        "<bos> Bar TimeSig_3/4 Position_0 Tempo_147 Program_40 Pitch_67 Velocity_79 Duration_4 Program_-1 Pitch_36 Velocity_99"
    );
    // Decoding keeps the instruments on their own channels.
    let back = Score::from_midi(&tok.decode_bytes(doc).unwrap(), "back").unwrap();
    let mut instruments: Vec<(u8, u8, u8)> = back.notes.iter().map(|n| (n.pitch, n.program, n.channel)).collect();
    instruments.sort();
    assert_eq!(instruments, vec![(36, 0, 9), (67, 40, 0), (67, 40, 0)]);

    // Format 2: the tracks play one after another.
    let seq = smf(
        Format::Sequential,
        96,
        vec![vec![note(0, 0, 60, 90), note(96, 0, 60, 0)], vec![note(0, 0, 62, 90), note(96, 0, 62, 0)]],
    );
    let starts: Vec<u64> = Score::from_midi(&seq, "f2.mid").unwrap().notes.iter().map(|n| n.start).collect();
    assert_eq!(starts, vec![0, 96]);
}
