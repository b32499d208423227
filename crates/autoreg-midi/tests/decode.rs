//! Lenient and strict decoding, prompts, augmentation, splitting and the saved form.

mod common;

use autoreg_midi::{DecodeError, MidiConfig, MidiTokenizer, Scheme, Score};
use autoreg_tokens::{Modality, testing::Tokenize};
use common::{note, smf};
use midly::Format;

fn tok(scheme: Scheme) -> MidiTokenizer {
    MidiTokenizer::new(MidiConfig { scheme, ..MidiConfig::default() }).unwrap()
}

fn ids(tok: &MidiTokenizer, names: &str) -> Vec<u32> {
    let by_name: std::collections::HashMap<String, u32> =
        (0..tok.vocab_size() as u32).map(|id| (tok.token_name(id).unwrap(), id)).collect();
    names.split_whitespace().map(|n| by_name[n]).collect()
}

/// A scale of `bars` bars of 4/4, one quarter note per beat from C4.
fn scale(bars: u8) -> Vec<u8> {
    let events = (0..bars * 4).flat_map(|i| [note(0, 0, 48 + i % 40, 90), note(96, 0, 48 + i % 40, 0)]).collect();
    smf(Format::SingleTrack, 96, vec![events])
}

#[test]
fn lenient_decoding_repairs_and_counts() {
    let tok = tok(Scheme::Remi);
    let good = ids(&tok, "<bos> Bar TimeSig_4/4 Position_0 Pitch_60 Velocity_99 Duration_8 <eos>");
    assert_eq!(tok.decode_report(&good).unwrap().repairs, 0);
    // A Pitch without Velocity and Duration, a stray Duration, a Position past the bar.
    let bad = ids(&tok, "Bar Position_0 Pitch_60 Position_4 Duration_2 Position_40 Pitch_62 Velocity_99");
    let report = tok.decode_report(&bad).unwrap();
    assert_eq!(report.repairs, 4);
    let notes: Vec<(u64, u64, u8)> = report.score.notes.iter().map(|n| (n.start, n.duration, n.pitch)).collect();
    // Both notes get the default duration of a beat; the second stays at position 4.
    let beat = u64::from(report.score.ticks_per_beat);
    assert_eq!(notes, vec![(0, beat, 60), (beat / 2, beat, 62)]);
    Score::from_midi(&report.midi, "repaired").unwrap();
}

#[test]
fn strict_decoding_names_the_first_invalid_token() {
    let tok = tok(Scheme::Remi);
    let bad = ids(&tok, "<bos> Bar Position_0 Pitch_60 Velocity_99 Duration_8 Position_2 Pitch_62 Duration_4 <eos>");
    match tok.decode_strict(&bad) {
        Err(DecodeError::InvalidToken { position, name, reason, .. }) => {
            assert_eq!((position, name.as_str()), (8, "Duration_4"));
            assert_eq!(reason, "expected Velocity after Pitch");
        }
        other => panic!("{other:?}"),
    }
    let err = tok.decode_strict(&ids(&tok, "Bar Position_2 TimeSig_3/4")).unwrap_err().to_string();
    assert!(err.contains("at position 2: TimeSig inside a bar"), "{err}");
    assert!(tok.decode_strict(&[tok.vocab_size() as u32]).unwrap_err().to_string().contains("outside the vocabulary"));
    // Lenient decoding drops an id outside the vocabulary, and counts it.
    assert_eq!(tok.decode_report(&[tok.vocab_size() as u32]).unwrap().repairs, 1);
}

#[test]
fn documents_split_on_bar_lines() {
    let config = MidiConfig { max_bars: 4, velocity_bins: 0, tempo_bins: 0, ..MidiConfig::default() };
    let tok = MidiTokenizer::new(config).unwrap();
    let docs = tok.encode_bytes(&scale(10), "scale.mid").unwrap();
    let bars: Vec<usize> =
        docs.iter().map(|d| d.iter().filter(|&&t| tok.token_name(t).unwrap() == "Bar").count()).collect();
    assert_eq!(bars, vec![4, 4, 2]);
    assert_eq!(docs.iter().map(|d| tok.count_units(d)).sum::<usize>(), 40);
    for doc in &docs {
        assert_eq!((doc[0], *doc.last().unwrap()), (tok.specials().bos, tok.specials().eos));
        // Each document stands alone: it round-trips by itself.
        assert_eq!(tok.encode_bytes(&tok.decode_bytes(doc).unwrap(), "doc").unwrap(), vec![doc.clone()]);
    }
    let limited = MidiTokenizer::new(MidiConfig { max_bars: 0, max_tokens: 40, ..tok.config().clone() }).unwrap();
    let docs = limited.encode_bytes(&scale(10), "scale.mid").unwrap();
    assert!(
        docs.len() > 1 && docs.iter().all(|d| d.len() <= 40),
        "{:?}",
        docs.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(docs.iter().map(|d| limited.count_units(d)).sum::<usize>(), 40);
}

#[test]
fn prompt_keeps_the_first_bars() {
    for scheme in [Scheme::Remi, Scheme::Tsd] {
        let tok = tok(scheme);
        let prompt = tok.prompt_bytes(&scale(10), "scale.mid", Some(3.0)).unwrap();
        assert_eq!(prompt[0], tok.specials().bos);
        assert_ne!(*prompt.last().unwrap(), tok.specials().eos);
        assert_eq!(tok.count_units(&prompt), 12);
        let whole = tok.prompt_bytes(&scale(10), "scale.mid", None).unwrap();
        assert_eq!(tok.count_units(&whole), 40);
        for bad in [0.0, 1.5, -2.0] {
            let err = tok.prompt_bytes(&scale(2), "s.mid", Some(bad)).unwrap_err().to_string();
            assert!(err.contains("give a whole number from 1"), "{err}");
        }
    }
}

#[test]
fn augmentation_transposes_within_the_pitch_range() {
    let config = MidiConfig { transpose: 5, pitch_range: [50, 70], ..MidiConfig::default() };
    let tok = MidiTokenizer::new(config).unwrap();
    let doc = ids(&tok, "Bar Position_0 Pitch_52 Velocity_99 Duration_4 Pitch_68 Velocity_99 Duration_4");
    let pitches = |d: &[u32]| -> Vec<String> {
        d.iter().map(|&t| tok.token_name(t).unwrap()).filter(|n| n.starts_with("Pitch")).collect()
    };
    let mut shifts = std::collections::BTreeSet::new();
    for draw in 0..11 {
        let mut window = doc.clone();
        tok.augment(&mut window, draw);
        let p = pitches(&window);
        let low: i32 = p[0]["Pitch_".len()..].parse().unwrap();
        let high: i32 = p[1]["Pitch_".len()..].parse().unwrap();
        assert_eq!(high - low, 16, "intervals are kept");
        assert!((50..=70).contains(&low) && (50..=70).contains(&high));
        shifts.insert(low - 52);
        // Only Pitch tokens change.
        let same = window.iter().zip(&doc).filter(|(a, b)| a == b).count();
        assert!(same >= doc.len() - 2);
    }
    // Room for -2..=+2 only: larger draws are reduced to fit.
    assert_eq!(shifts.into_iter().collect::<Vec<_>>(), vec![-2, -1, 0, 1, 2]);
}

#[test]
fn saved_form_round_trips_and_is_checked() {
    let tok = tok(Scheme::Tsd);
    let json = serde_json::to_value(&tok).unwrap();
    assert!(json.get("kind").is_none());
    assert_eq!(json["vocab"].as_array().unwrap().len() + 3, tok.vocab_size());
    let back: MidiTokenizer = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.config(), tok.config());
    let mut changed = json;
    changed["config"]["positions_per_beat"] = 4.into();
    let err = serde_json::from_value::<MidiTokenizer>(changed).unwrap_err().to_string();
    assert!(err.contains("differs"), "{err}");
    let config: MidiConfig = toml_like(r#"{"scheme": "tsd", "pitch_range": [40, 90]}"#);
    assert_eq!((config.scheme, config.pitch_range, config.positions_per_beat), (Scheme::Tsd, [40, 90], 8));
    assert!(serde_json::from_str::<MidiConfig>(r#"{"bogus": 1}"#).is_err());
}

fn toml_like(json: &str) -> MidiConfig {
    serde_json::from_str(json).unwrap()
}

#[test]
fn companions_are_written_beside_the_midi_file() {
    let tok = tok(Scheme::Remi);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.mid");
    let doc = &tok.encode_bytes(&scale(4), "scale.mid").unwrap()[0];
    tok.decode_to_file(doc, &path).unwrap();
    let files = tok.write_companions(doc, &path).unwrap();
    assert_eq!(files, vec![dir.path().join("sample.png"), dir.path().join("sample.wav")]);
    let png = image::open(&files[0]).unwrap();
    assert!(png.width() > 100 && png.height() > 40);
    let wav = hound::WavReader::open(&files[1]).unwrap();
    let spec = wav.spec();
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (22_050, 1, 16));
    // 16 beats at 120 bpm: 8 seconds and a release.
    let seconds = wav.duration() as f64 / 22_050.0;
    assert!((8.0..8.5).contains(&seconds), "{seconds}");
    let loud = wav.into_samples::<i16>().map(Result::unwrap).map(i16::unsigned_abs).max().unwrap();
    assert!(loud > 1000);
    autoreg_midi::render_midi_file(&path, &dir.path().join("r.png"), &dir.path().join("r.wav")).unwrap();
    // Previews into a folder, named after the file.
    let previews = dir.path().join("previews");
    std::fs::create_dir(&previews).unwrap();
    let files = autoreg_midi::render_previews(&path, &previews).unwrap();
    assert_eq!(files, vec![previews.join("sample.png"), previews.join("sample.wav")]);
    assert!(files.iter().all(|f| f.is_file()));
}

#[test]
fn tempo_tokens_are_named_by_the_tempo_they_decode_to() {
    use midly::num::u24;
    let tok = tok(Scheme::Remi);
    for (micros, name) in [(500_000, "Tempo_120"), (600_000, "Tempo_100"), (1_000_000, "Tempo_60")] {
        let events =
            vec![common::meta(0, midly::MetaMessage::Tempo(u24::new(micros))), note(0, 0, 60, 90), note(96, 0, 60, 0)];
        let doc = &tok.encode_bytes(&smf(Format::SingleTrack, 96, vec![events]), "t.mid").unwrap()[0];
        let names: Vec<String> = doc.iter().map(|&t| tok.token_name(t).unwrap()).collect();
        assert!(names.contains(&name.to_owned()), "{names:?}");
        assert_eq!(tok.decode_report(doc).unwrap().score.tempos[0].micros_per_beat, micros);
    }
    // Every tempo token decodes to the tempo it names.
    let tempos: Vec<String> =
        (0..tok.vocab_size() as u32).filter_map(|id| tok.token_name(id)).filter(|n| n.starts_with("Tempo_")).collect();
    assert_eq!(tempos.len(), 32);
    for name in tempos {
        let named: f64 = name["Tempo_".len()..].parse().unwrap();
        let doc = ids(&tok, &format!("Bar Position_0 {name} Pitch_60 Velocity_99 Duration_8"));
        let score = tok.decode_report(&doc).unwrap().score;
        assert_eq!(score.tempos.len(), 1, "{name}");
        assert!((score.tempos[0].bpm() - named).abs() < 0.01, "{name}: {}", score.tempos[0].bpm());
    }
}

#[test]
fn saved_form_keeps_strict_and_loads_the_former_format() {
    let strict = MidiTokenizer::new(MidiConfig { strict: true, ..MidiConfig::default() }).unwrap();
    let json = serde_json::to_value(&strict).unwrap();
    assert_eq!(json["config"]["strict"], true);
    let back: MidiTokenizer = serde_json::from_value(json).unwrap();
    assert!(back.config().strict);
    assert!(!serde_json::from_str::<MidiConfig>(r#"{"scheme": "remi"}"#).unwrap().strict);
    assert!(serde_json::from_str::<MidiConfig>(r#"{"strict": true}"#).unwrap().strict);
    assert!(serde_json::from_str::<MidiConfig>(r#"{"strict": 1}"#).is_err());

    // The former format: no `strict` key, and tempo levels evenly spaced from 40 to 250
    // bpm, so that 120 bpm was `Tempo_121` and 100 bpm `Tempo_101`.
    let tok = tok(Scheme::Remi);
    let mut old = serde_json::to_value(&tok).unwrap();
    old["config"].as_object_mut().unwrap().remove("strict");
    let vocab = old["vocab"].as_array_mut().unwrap();
    let first = vocab.iter().position(|n| n.as_str().unwrap().starts_with("Tempo_")).unwrap();
    for i in 0..32 {
        vocab[first + i] = format!("Tempo_{}", (40.0 + 210.0 * f64::from(i as u8) / 31.0).round()).into();
    }
    assert_eq!((vocab[first + 9].as_str(), vocab[first + 12].as_str()), (Some("Tempo_101"), Some("Tempo_121")));
    let back: MidiTokenizer = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(back.config(), tok.config());
    assert_eq!(back.token_name(first as u32 + 12).as_deref(), Some("Tempo_120"));
    // Other names are still refused.
    old["vocab"][first + 3] = "Tempo_999".into();
    let err = serde_json::from_value::<MidiTokenizer>(old).unwrap_err().to_string();
    assert!(err.contains("differs"), "{err}");
}

/// A piano melody with drums under it, then a drum solo of several hits per beat, then
/// the melody again: program 0 on channel 1, drums on channel 10.
fn band() -> Vec<u8> {
    let mut events = Vec::new();
    for beat in 0..24u8 {
        let melody = !(8..16).contains(&beat);
        if melody {
            events.push(note(0, 0, 60 + beat % 12, 90));
        }
        events.extend([note(0, 9, 36, 100), note(0, 9, 42 + beat % 3, 80)]);
        events.push(note(48, 9, 36, 0));
        events.push(note(0, 9, 42 + beat % 3, 0));
        events.push(note(0, 9, 38, 70));
        events.push(note(48, 9, 38, 0));
        if melody {
            events.push(note(0, 0, 60 + beat % 12, 0));
        }
    }
    smf(Format::SingleTrack, 96, vec![events])
}

#[test]
fn augmentation_never_transposes_drums_whatever_the_window() {
    for scheme in [Scheme::Remi, Scheme::Tsd] {
        let config = MidiConfig { scheme, transpose: 5, max_bars: 0, ..MidiConfig::default() };
        let tok = MidiTokenizer::new(config).unwrap();
        let doc = tok.encode_bytes(&band(), "band.mid").unwrap().remove(0);
        // Which tokens are drum hits, from the whole document.
        let names: Vec<String> = doc.iter().map(|&t| tok.token_name(t).unwrap()).collect();
        let mut program = "Program_0";
        let drum: Vec<bool> = names
            .iter()
            .map(|n| {
                if n.starts_with("Program_") {
                    program = n;
                }
                n.starts_with("Pitch_") && program == "Program_-1"
            })
            .collect();
        let solo = (0..doc.len()).filter(|&i| drum[i]).nth(20).unwrap();
        assert!(drum[solo..solo + 30].iter().filter(|&&d| d).count() > 5);
        let pitch = |name: &str| name.strip_prefix("Pitch_").map(|p| p.parse::<i32>().unwrap());
        let mut transposed = 0;
        for start in 0..doc.len() - 8 {
            for len in [8, 40, 200] {
                let original = &doc[start..(start + len).min(doc.len())];
                for draw in [0, 3, 9, 10] {
                    let mut window = original.to_vec();
                    tok.augment(&mut window, draw);
                    let mut shifts = std::collections::BTreeSet::new();
                    for (i, (&a, &b)) in original.iter().zip(&window).enumerate() {
                        let (before, after) = (tok.token_name(a).unwrap(), tok.token_name(b).unwrap());
                        match (pitch(&before), pitch(&after)) {
                            (Some(p), Some(q)) if drum[start + i] => {
                                assert_eq!(p, q, "{scheme:?}: window at {start}: drum {before} became {after}")
                            }
                            (Some(p), Some(q)) => {
                                shifts.insert(q - p);
                            }
                            _ => assert_eq!(a, b, "{scheme:?}: only pitches change"),
                        }
                    }
                    assert!(shifts.len() <= 1, "{scheme:?}: window at {start}: shifts {shifts:?}");
                    transposed += usize::from(shifts.iter().any(|&s| s != 0) && (solo..solo + 30).contains(&start));
                }
            }
        }
        // Windows that start inside the drum solo still transpose the melody after it.
        assert!(transposed > 30, "{scheme:?}: {transposed}");
    }
}

#[test]
fn augmentation_transposes_single_instrument_windows_from_any_start() {
    let config = MidiConfig { transpose: 3, max_bars: 0, ..MidiConfig::default() };
    let tok = MidiTokenizer::new(config).unwrap();
    let doc = tok.encode_bytes(&scale(4), "scale.mid").unwrap().remove(0);
    for start in 1..doc.len() - 10 {
        let mut window = doc[start..start + 10].to_vec();
        tok.augment(&mut window, 5);
        let changed = window.iter().zip(&doc[start..]).filter(|(a, b)| a != b).count();
        assert_eq!(changed, tok.count_units(&window), "window at {start}: every pitch moves up 2");
    }
}

/// Asserts that no note-on in `midi` arrives for a pitch already sounding on its
/// channel, walking each track's events with the set of sounding (channel, key).
fn assert_no_note_on_while_sounding(midi: &[u8]) {
    let smf = midly::Smf::parse(midi).unwrap();
    for (t, track) in smf.tracks.iter().enumerate() {
        let mut sounding = std::collections::HashSet::new();
        let mut tick = 0u64;
        for event in track {
            tick += u64::from(event.delta.as_int());
            let midly::TrackEventKind::Midi { channel, message } = event.kind else { continue };
            match message {
                midly::MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                    let fresh = sounding.insert((channel.as_int(), key.as_int()));
                    assert!(
                        fresh,
                        "track {t}, tick {tick}: note-on for key {key} already sounding on channel {channel}"
                    );
                }
                midly::MidiMessage::NoteOn { key, .. } | midly::MidiMessage::NoteOff { key, .. } => {
                    sounding.remove(&(channel.as_int(), key.as_int()));
                }
                _ => {}
            }
        }
        assert!(sounding.is_empty(), "track {t} ends with notes on: {sounding:?}");
    }
}

#[test]
fn the_writer_never_strikes_a_sounding_pitch_again() {
    // C4 twice at the first position (a duplicate), E4 for a whole bar struck again a
    // beat later (a re-onset), and C4 again right as the first one ends.
    let notes = [
        "Pitch_60 Velocity_99 Duration_16",
        "Pitch_60 Velocity_99 Duration_8",
        "Pitch_64 Velocity_99 Duration_32",
        "Pitch_64 Velocity_99 Duration_8",
        "Pitch_60 Velocity_99 Duration_8",
    ];
    let remi = format!(
        "Bar TimeSig_4/4 Position_0 {} {} {} Position_8 {} Position_16 {}",
        notes[0], notes[1], notes[2], notes[3], notes[4]
    );
    let tsd = format!("{} {} {} TimeShift_8 {} TimeShift_8 {}", notes[0], notes[1], notes[2], notes[3], notes[4]);
    for (scheme, text) in [(Scheme::Remi, remi), (Scheme::Tsd, tsd)] {
        let tok = tok(scheme);
        let report = tok.decode_report(&ids(&tok, &text)).unwrap();
        assert_eq!(report.repairs, 0, "{scheme:?}");
        assert_no_note_on_while_sounding(&report.midi);
        let beat = u64::from(report.score.ticks_per_beat);
        let expected = vec![(0, 2 * beat, 60), (0, beat, 64), (beat, beat, 64), (2 * beat, beat, 60)];
        let got = |score: &Score| {
            let mut notes: Vec<(u64, u64, u8)> = score.notes.iter().map(|n| (n.start, n.duration, n.pitch)).collect();
            notes.sort();
            notes
        };
        let mut sorted = expected.clone();
        sorted.sort();
        // The decoded score and the file written agree on the notes.
        assert_eq!(got(&report.score), sorted, "{scheme:?}");
        assert_eq!(got(&Score::from_midi(&report.midi, "written").unwrap()), sorted, "{scheme:?}");
    }
}

#[test]
fn a_score_with_overlapping_notes_is_written_playable() {
    use autoreg_midi::Note;
    let note = |start, duration, pitch, channel| Note { start, duration, pitch, velocity: 80, program: 0, channel };
    let score = Score {
        ticks_per_beat: 480,
        notes: vec![
            note(0, 960, 60, 0),
            note(0, 480, 60, 0),
            note(0, 0, 62, 0),
            note(0, 480, 62, 0),
            note(240, 960, 60, 0),
            note(240, 480, 60, 1),
            note(300, 100, 60, 1),
        ],
        ..Score::default()
    };
    let midi = score.to_midi().unwrap();
    assert_no_note_on_while_sounding(&midi);
    let back = Score::from_midi(&midi, "written").unwrap();
    let mut got: Vec<(u64, u64, u8, u8)> =
        back.notes.iter().map(|n| (n.start, n.duration, n.pitch, n.channel)).collect();
    got.sort();
    // Of the C4s at 0 the first stays, as long as the longer, and is cut where C4 is
    // struck again; of the D4s the empty one stays, as long as the other.
    let want = vec![(0, 240, 60, 0), (0, 480, 62, 0), (240, 60, 60, 1), (240, 960, 60, 0), (300, 100, 60, 1)];
    assert_eq!(got, want);
}
