//! Quick property-based fuzzing (a few hundred cases); the long campaign is the
//! `fuzz_campaign` example.

mod common;

use autoreg_midi::{MidiConfig, MidiTokenizer, Scheme, Score};
use autoreg_tokens::{Modality, testing::Tokenize};
use proptest::prelude::*;

fn tokenizers() -> [MidiTokenizer; 2] {
    [
        MidiTokenizer::new(MidiConfig { max_bars: 4, ..MidiConfig::default() }).unwrap(),
        MidiTokenizer::new(MidiConfig { scheme: Scheme::Tsd, monophonic: true, ..MidiConfig::default() }).unwrap(),
    ]
}

/// A small valid file to mutate.
fn seed() -> Vec<u8> {
    use common::note;
    common::smf(
        midly::Format::Parallel,
        96,
        vec![
            vec![note(0, 0, 60, 90), note(50, 0, 64, 80), note(46, 0, 60, 0), note(96, 0, 64, 0)],
            vec![note(10, 9, 36, 100)],
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for tok in tokenizers() {
            let _ = tok.encode_bytes(&bytes, "fuzz");
        }
    }

    #[test]
    fn mutated_files_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = seed();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        for tok in tokenizers() {
            if let Ok(docs) = tok.encode_bytes(&bytes, "fuzz") {
                prop_assert!(docs.iter().all(|d| d.iter().all(|&t| (t as usize) < tok.vocab_size())));
            }
        }
    }

    #[test]
    fn arbitrary_tokens_decode_to_readable_midi(raw in proptest::collection::vec(any::<u32>(), 0..300)) {
        for tok in tokenizers() {
            let tokens: Vec<u32> = raw.iter().map(|t| t % tok.vocab_size() as u32).collect();
            let report = tok.decode_report(&tokens).unwrap();
            match Score::from_midi(&report.midi, "decoded") {
                Ok(score) => prop_assert_eq!(score.notes.len(), report.score.notes.len()),
                Err(e) => prop_assert!(report.score.notes.is_empty(), "{}", e),
            }
            // Strict decoding either agrees or names a position inside the sequence.
            if let Err(autoreg_midi::DecodeError::InvalidToken { position, .. }) = tok.decode_strict(&tokens) {
                prop_assert!(position <= tokens.len());
            } else {
                prop_assert_eq!(report.repairs, 0);
            }
        }
    }
}
