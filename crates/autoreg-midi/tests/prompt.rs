//! Prompts cut from real tunes end at a bar line: whatever follows them, their notes
//! decode unchanged.

mod common;

use autoreg_midi::{MidiConfig, MidiTokenizer, Scheme};
use autoreg_tokens::{Modality, testing::Tokenize};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// (start, pitch, duration, velocity) of a decoded note.
type Note = (u64, u8, u64, u8);

fn tok(scheme: Scheme) -> MidiTokenizer {
    MidiTokenizer::new(MidiConfig { scheme, max_bars: 0, ..MidiConfig::default() }).unwrap()
}

/// The decoded notes of `tokens` that start before `end`, sorted.
fn notes_before(tok: &MidiTokenizer, tokens: &[u32], end: u64) -> Vec<Note> {
    let score = tok.decode_report(tokens).unwrap().score;
    let mut notes: Vec<Note> =
        score.notes.iter().filter(|n| n.start < end).map(|n| (n.start, n.pitch, n.duration, n.velocity)).collect();
    notes.sort();
    notes
}

/// The tick at which bar `bar` (from 0) of the decoded `tokens` starts.
fn bar_tick(tok: &MidiTokenizer, tokens: &[u32], bar: usize) -> u64 {
    tok.decode_report(tokens).unwrap().score.bar_ticks(u64::MAX).nth(bar).unwrap()
}

/// A random token sequence that follows the grammar: notes at increasing positions, bar
/// lines, tempo, time-signature and program changes.
fn valid_continuation(tok: &MidiTokenizer, rng: &mut StdRng) -> Vec<u32> {
    let by_name = by_name(tok);
    let all = |prefix: &str| -> Vec<&str> {
        let mut names: Vec<&str> = by_name.keys().map(String::as_str).filter(|n| n.starts_with(prefix)).collect();
        names.sort();
        names
    };
    let (pitches, velocities, durations) = (all("Pitch_"), all("Velocity_"), all("Duration_"));
    let (tempos, meters, programs) = (all("Tempo_"), all("TimeSig_"), all("Program_"));
    let remi = tok.config().scheme == Scheme::Remi;
    let pick = |names: &[&str], rng: &mut StdRng| names[rng.random_range(0..names.len())].to_owned();
    let mut out: Vec<String> = Vec::new();
    // REMI: the last position in this bar, and a bar length no longer than the real one
    // (the shortest listed meter, 3/8, until a `TimeSig` sets it).
    let (mut position, mut bar_len) = (None::<u32>, 12);
    for _ in 0..rng.random_range(1..40) {
        let choice = rng.random_range(0..10);
        if choice == 0 {
            let meter = rng.random_bool(0.4).then(|| pick(&meters, rng));
            if remi {
                out.push("Bar".into());
                position = None;
            }
            if let Some(meter) = meter {
                let (n, d) = meter["TimeSig_".len()..].split_once('/').unwrap();
                bar_len = n.parse::<u32>().unwrap() * 32 / d.parse::<u32>().unwrap();
                out.push(meter);
            }
            continue;
        }
        if remi {
            let next = position.map_or(0, |p| p + rng.random_range(1..4));
            if next >= bar_len {
                out.push("Bar".into());
                position = Some(0);
            } else {
                position = Some(next);
            }
            out.push(format!("Position_{}", position.unwrap_or(0)));
        } else if choice > 5 {
            out.push(format!("TimeShift_{}", rng.random_range(1..9)));
        }
        if choice == 1 {
            out.push(pick(&tempos, rng));
            continue;
        }
        if choice == 2 {
            out.push(pick(&programs, rng));
        }
        out.extend([pick(&pitches, rng), pick(&velocities, rng), pick(&durations, rng)]);
    }
    out.iter().map(|n| by_name[n]).collect()
}

/// Token ids by name.
fn by_name(tok: &MidiTokenizer) -> HashMap<String, u32> {
    (0..tok.vocab_size() as u32).map(|id| (tok.token_name(id).unwrap(), id)).collect()
}

/// Checks that `prompt` followed by each continuation decodes to the notes of `full`
/// that start before `end`.
fn check_continuations(tok: &MidiTokenizer, prompt: &[u32], full: &[u32], end: u64, other: &[u32], what: &str) {
    let expected = notes_before(tok, full, end);
    assert!(!expected.is_empty(), "{what}: no notes");
    assert_eq!(notes_before(tok, prompt, u64::MAX), expected, "{what}: the prompt alone");
    let mut rng = StdRng::seed_from_u64(7);
    let mut continuations = vec![other.to_vec()];
    continuations.extend((0..30).map(|_| valid_continuation(tok, &mut rng)));
    let size = tok.vocab_size() as u32;
    continuations.extend((0..30).map(|_| (0..rng.random_range(1..200)).map(|_| rng.random_range(0..size)).collect()));
    for (i, continuation) in continuations.iter().enumerate() {
        let tokens = [prompt, continuation].concat();
        assert_eq!(notes_before(tok, &tokens, end), expected, "{what}: continuation {i}");
        if i <= 30 {
            // The real and the grammatical continuations keep the whole well formed.
            assert_eq!(tok.decode_report(&tokens).unwrap().repairs, 0, "{what}: continuation {i}");
        }
    }
    // The next note, placed at the start of what follows, starts the next bar.
    let next = match tok.config().scheme {
        Scheme::Remi => "Position_0 Pitch_60 Velocity_99 Duration_4",
        Scheme::Tsd => "Pitch_60 Velocity_99 Duration_4",
    };
    let by_name = by_name(tok);
    let next: Vec<u32> = next.split(' ').map(|n| by_name[n]).collect();
    let score = tok.decode_report(&[prompt, &next].concat()).unwrap().score;
    assert_eq!(score.notes.iter().map(|n| n.start).max(), Some(end), "{what}");
}

#[test]
fn cut_prompts_end_at_a_bar_line_and_keep_their_notes() {
    let dir = common::full_tunes();
    let (a, b) = (std::fs::read(dir.join("ashover1.mid")).unwrap(), std::fs::read(dir.join("jigs10.mid")).unwrap());
    for scheme in [Scheme::Remi, Scheme::Tsd] {
        let tok = tok(scheme);
        let full = tok.encode_bytes(&a, "a.mid").unwrap().remove(0);
        let other = tok.encode_bytes(&b, "b.mid").unwrap().remove(0);
        // The other tune (of the same bar length) from its third bar on: REMI, after
        // its third `Bar`; TSD, from its first time shift past a third of it.
        let names: Vec<String> = other.iter().map(|&t| tok.token_name(t).unwrap()).collect();
        let from = match scheme {
            Scheme::Remi => names.iter().enumerate().filter(|(_, n)| *n == "Bar").nth(2).unwrap().0 + 1,
            Scheme::Tsd => (other.len() / 3..other.len()).find(|&i| names[i].starts_with("TimeShift")).unwrap(),
        };
        for bars in [1, 2, 3] {
            let prompt = tok.prompt_bytes(&a, "a.mid", Some(f64::from(bars))).unwrap();
            let end = bar_tick(&tok, &full, bars as usize);
            if scheme == Scheme::Remi {
                let names: Vec<String> = prompt.iter().map(|&t| tok.token_name(t).unwrap()).collect();
                assert_eq!(names.iter().filter(|n| *n == "Bar").count(), bars as usize + 1);
                assert_eq!(names.last().map(String::as_str), Some("Bar"));
            }
            let what = format!("{scheme:?}, {bars} bars");
            check_continuations(&tok, &prompt, &full, end, &other[from..], &what);
        }
        // The whole tune: every note, then what follows starts the bar after its last.
        let whole = tok.prompt_bytes(&a, "a.mid", None).unwrap();
        let bars = tok.decode_report(&full).unwrap().score;
        let last_bar = bars.bar_ticks(bars.notes.iter().map(|n| n.start).max().unwrap()).count();
        let end = bar_tick(&tok, &full, last_bar);
        assert_eq!(notes_before(&tok, &whole, u64::MAX), notes_before(&tok, &full, u64::MAX));
        check_continuations(&tok, &whole, &full, end, &other[from..], &format!("{scheme:?}, whole"));
    }
}

/// Fill in the middle cuts REMI on bars: each cut is at a `Bar` (or EOS), one per bar,
/// and the bars before and after a middle decode unchanged whatever is put between.
#[test]
fn fill_in_the_middle_cuts_remi_on_bars() {
    let remi = tok(Scheme::Remi);
    let identity = autoreg_tokens::Identity { vocab_size: remi.vocab_size() };
    let pipeline = autoreg_tokens::Pipeline::new(&remi, &identity);
    assert_eq!(pipeline.span_unit(), Some("bar"));
    let bar = by_name(&remi)["Bar"];
    let eos = remi.specials().eos;
    let mut spliced_tunes = 0;
    for file in common::midi_files(&common::data_dir("nottingham/melody")).iter().take(20) {
        let doc = remi.encode_file(file).unwrap().remove(0);
        let bounds = pipeline.unit_bounds(&doc);
        let bars = doc.iter().filter(|&&t| t == bar).count();
        assert_eq!(bounds.len(), bars + 1, "{}", file.display());
        assert!(bounds.iter().all(|&b| doc[b] == bar || doc[b] == eos), "{}", file.display());
        // Bars 2-3 replaced by nothing: bar 1 and the bars after 3 decode as they were,
        // the later ones two bars earlier.
        if bars >= 5 {
            let cut = pipeline.infill_cut(&doc, 2, 3).unwrap();
            let spliced = [&doc[..cut.a], &doc[cut.b..]].concat();
            let end = bar_tick(&remi, &doc, 1);
            assert_eq!(notes_before(&remi, &spliced, end), notes_before(&remi, &doc, end), "{}", file.display());
            let shift = bar_tick(&remi, &doc, 3) - end;
            let after = |tokens: &[u32], from: u64, shift: u64| -> Vec<Note> {
                let all = notes_before(&remi, tokens, u64::MAX);
                all.into_iter().filter(|n| n.0 >= from).map(|(t, p, d, v)| (t - shift, p, d, v)).collect()
            };
            assert_eq!(after(&spliced, end, 0), after(&doc, end + shift, shift), "{}", file.display());
            spliced_tunes += 1;
        }
    }
    assert!(spliced_tunes >= 15, "only {spliced_tunes} tunes of 5 bars or more");
    assert_eq!(tok(Scheme::Tsd).extras().spans.map(|s| s.unit()), None, "TSD has no bar tokens");
}
