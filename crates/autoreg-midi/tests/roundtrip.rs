//! Round trips over every file of the Nottingham data set.

mod common;

use autoreg_midi::{MidiConfig, MidiTokenizer, Scheme, Score};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A program (`None` for drums) and a pitch.
type ProgramPitch = (Option<u8>, u8);

/// Largest onset and duration errors (in grid steps) over one file's round trip, and
/// how many notes were compared.
fn round_trip(tok: &MidiTokenizer, bytes: &[u8], name: &str) -> (f64, f64, usize) {
    let config = tok.config();
    // Each file is parsed once; `encode` is `encode_score` of the parsed score.
    let original = Score::from_midi(bytes, name).unwrap();
    let docs = tok.encode_score(&original, name).unwrap();
    assert_eq!(docs.len(), 1, "{name}: one document without a bar limit");
    let decoded = tok.decode_report(&docs[0]).unwrap();
    assert_eq!(decoded.repairs, 0, "{name}: the encoder's tokens break the grammar");
    let again = Score::from_midi(&decoded.midi, name).unwrap();
    assert_eq!(tok.encode_score(&again, name).unwrap(), docs, "{name}: tokenize → decode → tokenize differs");
    assert!(tok.decode_strict(&docs[0]).is_ok(), "{name}");

    let ppb = f64::from(config.positions_per_beat);
    let steps = |tick: u64, tpb: u16| tick as f64 * ppb / f64::from(tpb);
    // Notes by instrument (program, or none for drums) and pitch, sorted by onset.
    let by_pitch = |s: &Score| {
        let mut m: BTreeMap<ProgramPitch, Vec<(f64, f64)>> = BTreeMap::new();
        for n in &s.notes {
            let key = ((!n.is_drum()).then_some(n.program), n.pitch);
            m.entry(key).or_default().push((steps(n.start, s.ticks_per_beat), steps(n.duration, s.ticks_per_beat)));
        }
        m.values_mut().for_each(|v| v.sort_by(|a, b| a.partial_cmp(b).unwrap()));
        m
    };
    let (mut before, after) = (by_pitch(&original), by_pitch(&again));
    // An instrument sounds a pitch once at a grid step: of notes quantized to one step
    // the longest is kept.
    for notes in before.values_mut() {
        let mut kept: Vec<(f64, f64)> = Vec::with_capacity(notes.len());
        for &(start, length) in notes.iter() {
            match kept.last_mut() {
                Some(last) if last.0.round() == start.round() => last.1 = last.1.max(length),
                _ => kept.push((start, length)),
            }
        }
        *notes = kept;
    }
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "{name}: pitches differ");
    let max_steps = f64::from(config.max_duration_beats) * ppb;
    let (mut onset, mut duration, mut count) = (0f64, 0f64, 0);
    for (pitch, notes) in &before {
        let back = &after[pitch];
        assert_eq!(notes.len(), back.len(), "{name}: number of notes of pitch {pitch:?}");
        for (a, b) in notes.iter().zip(back) {
            onset = onset.max((a.0 - b.0).abs());
            // Durations are kept to the grid, from one step up to the longest duration,
            // except where the pitch is struck again while it sounds: there it ends.
            let expected = a.1.round().clamp(1.0, max_steps);
            let cut = b.1 < expected && back.iter().any(|c| c.0 == b.0 + b.1);
            assert!(b.1 == expected || cut, "{name}: pitch {pitch:?} at step {}: {} steps, not {expected}", a.0, b.1);
            duration = duration.max((a.1.clamp(1.0, max_steps) - b.1).abs());
            count += 1;
        }
    }
    (onset, duration, count)
}

fn check_folder(sub: &str, scheme: Scheme) {
    let dir = if sub == "nottingham/full" { common::full_tunes() } else { common::data_dir(sub) };
    let files = common::midi_files(&dir);
    assert_eq!(files.len(), 1034, "{}", dir.display());
    let tok = MidiTokenizer::new(MidiConfig { scheme, max_bars: 0, ..MidiConfig::default() }).unwrap();
    let results: Vec<(f64, f64, usize)> =
        files.par_iter().map(|f| round_trip(&tok, &std::fs::read(f).unwrap(), &f.display().to_string())).collect();
    let onset = results.iter().map(|r| r.0).fold(0.0, f64::max);
    let duration = results.iter().map(|r| r.1).fold(0.0, f64::max);
    let notes: usize = results.iter().map(|r| r.2).sum();
    println!(
        "{sub} ({scheme:?}): {} files, {notes} notes, largest onset error {onset:.4} grid steps ({:.5} beats), \
         largest duration error {duration:.4} steps",
        files.len(),
        onset / f64::from(tok.config().positions_per_beat)
    );
    assert!(onset <= 0.5, "onset error {onset} is over half a grid step");
}

#[test]
fn nottingham_melody_round_trips_with_remi() {
    check_folder("nottingham/melody", Scheme::Remi);
}

#[test]
fn nottingham_full_round_trips_with_remi() {
    check_folder("nottingham/full", Scheme::Remi);
}

#[test]
fn nottingham_melody_round_trips_with_tsd() {
    check_folder("nottingham/melody", Scheme::Tsd);
}

#[test]
fn nottingham_full_round_trips_with_tsd() {
    check_folder("nottingham/full", Scheme::Tsd);
}
