//! Damaged real files: lenient reading keeps what comes before the damage and warns
//! once per file; strict reading refuses the file.

mod common;

use autoreg_midi::{MidiConfig, MidiTokenizer};
use autoreg_tokens::testing::{keep_logs, logged};
use autoreg_tokens::{TokenError, testing::Tokenize};

/// A tokenizer without a bar limit; its first use installs the capturing logger.
fn tok(strict: bool) -> MidiTokenizer {
    keep_logs();
    MidiTokenizer::new(MidiConfig { max_bars: 0, strict, ..MidiConfig::default() }).unwrap()
}

/// A Nottingham file, from `sub` (`melody` or `full`, see [`common::full_tunes`]).
fn tune(sub: &str, file: &str) -> Vec<u8> {
    let dir = if sub == "full" { common::full_tunes() } else { common::data_dir(&format!("nottingham/{sub}")) };
    std::fs::read(dir.join(file)).unwrap()
}

/// The notes that `doc` decodes to, sorted.
fn notes(tok: &MidiTokenizer, doc: &[u32]) -> Vec<Note> {
    let score = tok.decode_report(doc).unwrap().score;
    let mut notes: Vec<Note> = score.notes.iter().map(|n| (n.start, n.pitch, n.duration, n.velocity)).collect();
    notes.sort();
    notes
}

/// Byte offsets of the track chunks: (start of the data, declared length).
fn tracks(bytes: &[u8]) -> Vec<(usize, usize)> {
    let (mut pos, mut out) = (14, Vec::new());
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((pos + 8, len));
        pos += 8 + len;
    }
    out
}

/// `full` rewritten with the tracks before `track`, then the first `events` events of
/// `track`, nothing after: what reading the damaged file should keep.
fn reference(full: &[u8], track: usize, events: usize) -> Vec<u8> {
    let mut smf = midly::Smf::parse(full).unwrap();
    smf.tracks.truncate(track + 1);
    smf.tracks[track].truncate(events);
    let end = midly::TrackEventKind::Meta(midly::MetaMessage::EndOfTrack);
    smf.tracks[track].push(midly::TrackEvent { delta: 0.into(), kind: end });
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).unwrap();
    bytes
}

/// Encodes the damaged `cut` leniently: checks that one warning naming `name` starts
/// with `says` and that the notes are those of the reference file that keeps the events
/// the warning counts of `track`. Returns the lenient notes and that count.
fn check_lenient(full: &[u8], cut: &[u8], name: &str, track: usize, says: &str) -> (Vec<Note>, usize) {
    let tok = tok(false);
    let docs = tok.encode_bytes(cut, name).unwrap();
    assert_eq!(docs.len(), 1);
    let warnings = logged(name);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0];
    assert!(warning.starts_with(&format!("WARN: {name}: {says}")), "{warning}");
    let (_, count) = warning.rsplit_once("kept its first ").unwrap();
    let kept: usize = count.trim_end_matches(" events").parse().unwrap();
    assert!(kept > 10 && kept < midly::Smf::parse(full).unwrap().tracks[track].len(), "{kept}");
    let lenient = notes(&tok, &docs[0]);
    let expected = notes(&tok, &tok.encode_bytes(&reference(full, track, kept), "reference.mid").unwrap()[0]);
    assert_eq!(lenient, expected, "{name}");
    (lenient, kept)
}

/// (start, pitch, duration, velocity) of a decoded note.
type Note = (u64, u8, u64, u8);

/// Checks that the notes `kept` of a damaged one-track file are those of `full` up to
/// the last onset kept, where a note may be cut short.
fn check_prefix(full: &[u8], kept: &[Note]) {
    let tok = tok(false);
    let whole = notes(&tok, &tok.encode_bytes(full, "full.mid").unwrap()[0]);
    assert!(kept.len() >= 10 && kept.len() < whole.len(), "{} of {} notes", kept.len(), whole.len());
    let last = kept.iter().map(|n| n.0).max().unwrap();
    let before: Vec<Note> = whole.iter().filter(|n| n.0 < last).copied().collect();
    assert_eq!(&kept[..before.len()], &before[..], "the notes before the cut differ");
    for n in &kept[before.len()..] {
        assert!(whole.iter().any(|w| (w.0, w.1, w.3) == (n.0, n.1, n.3) && w.2 >= n.2), "{n:?}");
    }
}

#[test]
fn a_truncated_track_keeps_its_notes_before_the_cut() {
    let full = tune("melody", "ashover1.mid");
    let [(start, len)] = tracks(&full)[..] else { panic!("one track expected") };
    let cut = &full[..start + len / 2];
    let left = cut.len() - start;
    let says = format!("track 0 is truncated (declares {len} bytes, {left} remain): kept its first ");
    let (kept, _) = check_lenient(&full, cut, "cut-melody.mid", 0, &says);
    check_prefix(&full, &kept);

    // The second of two tracks: the first is whole, the second keeps its start.
    let full = tune("full", "ashover1.mid");
    let (start, len) = tracks(&full)[1];
    let cut = &full[..start + len / 2];
    let left = cut.len() - start;
    let says = format!("track 1 is truncated (declares {len} bytes, {left} remain): kept its first ");
    check_lenient(&full, cut, "cut-full.mid", 1, &says);

    // Strictly, the file is refused with an error that names it.
    let err = tok(true).encode_bytes(cut, "cut-strict.mid").unwrap_err();
    assert!(matches!(err, TokenError::Format { ref name, .. } if name == "cut-strict.mid"), "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("declares {len} bytes but {left} remain")), "{message}");
    assert!(logged("cut-strict.mid").is_empty());
}

#[test]
fn a_malformed_event_keeps_the_events_before_it() {
    let full = tune("melody", "ashover10.mid");
    let (start, _) = tracks(&full)[0];
    // An event past the middle of the track with a one-byte delta of 0; midly's byte map
    // gives where its status (or first data) byte is.
    let smf = midly::SmfBytemap::parse(&full).unwrap();
    let events = &smf.tracks[0];
    let (index, at) = (events.len() / 2..events.len())
        .map(|i| (i, events[i].0.as_ptr() as usize - full.as_ptr() as usize))
        .find(|&(i, at)| events[i].1.delta == 0 && full[at - 1] == 0)
        .unwrap();
    let mut broken = full.clone();
    // 0xF4 (a system common message) is not allowed in a file.
    broken[at] = 0xF4;
    let says = format!("track 0 has a malformed event at byte {}: kept its first {index} events", at - 1 - start);
    let (kept, count) = check_lenient(&full, &broken, "broken.mid", 0, &says);
    assert_eq!(count, index);
    check_prefix(&full, &kept);
    let err = tok(true).encode_bytes(&broken, "broken-strict.mid").unwrap_err().to_string();
    assert_eq!(err, format!("broken-strict.mid: track 0: malformed event at byte {} of the track", at - 1 - start));
}

#[test]
fn missing_tracks_are_named_and_whole_files_do_not_warn() {
    let full = tune("full", "ashover1.mid");
    let (start, len) = tracks(&full)[0];
    let first = &full[..start + len];
    let tok = tok(false);
    let docs = tok.encode_bytes(first, "first-track.mid").unwrap();
    let expected = notes(&tok, &tok.encode_bytes(&reference(&full, 0, usize::MAX), "reference.mid").unwrap()[0]);
    assert_eq!(notes(&tok, &docs[0]), expected);
    assert_eq!(
        logged("first-track.mid"),
        vec!["WARN: first-track.mid: the header declares 2 tracks but 1 are present"]
    );
    let err = self::tok(true).encode_bytes(first, "first-strict.mid").unwrap_err().to_string();
    assert_eq!(err, "first-strict.mid: truncated: the header declares 2 tracks but 1 are present");

    tok.encode_bytes(&full, "whole-file.mid").unwrap();
    tok.prompt_bytes(&full, "whole-prompt.mid", Some(2.0)).unwrap();
    assert!(logged("whole-").is_empty());
    // A prompt is read leniently too, with its own warning.
    tok.prompt_bytes(first, "first-prompt.mid", Some(2.0)).unwrap();
    assert_eq!(logged("first-prompt.mid").len(), 1);
}
