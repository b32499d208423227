//! MIDI with BPE on the carried Nottingham melodies: every file gives back the same base
//! tokens, merges never cross a bar line, they shorten the tunes, and transposition
//! still works on the base ids under them.

use autoreg_bpe::{Bpe, BpeConfig};
use autoreg_midi::MidiConfig;
use autoreg_tokens::{IdModel, Modality, ModalityBuilder, Pipeline, Source};
use std::path::PathBuf;

/// The carried melodies, and the REMI tokenizer of configs/melody.toml.
fn melodies() -> (Vec<PathBuf>, autoreg_midi::MidiTokenizer) {
    let dir = autoreg_data::find_data("nottingham/melody").unwrap();
    let config: MidiConfig =
        toml::from_str("scheme = \"remi\"\npositions_per_beat = 4\nmax_bars = 16\ntranspose = 3").unwrap();
    let files = autoreg_data::list_files(&dir, &config.extensions()).unwrap();
    let tok = config.build(&files).unwrap();
    (files, tok)
}

#[test]
fn every_melody_gives_the_same_base_tokens_through_bpe() {
    let (files, tok) = melodies();
    assert_eq!(files.len(), 1034);
    let docs: Vec<Vec<u32>> =
        files.iter().flat_map(|f| tok.encode(&Source::new(f, &std::fs::read(f).unwrap())).unwrap()).collect();
    let config = BpeConfig { vocab_size: tok.vocab_size() + 600, min_frequency: 2, split: None };
    let bpe = Bpe::learn(&config, &tok, docs.iter().map(Vec::as_slice)).unwrap();
    assert_eq!(bpe.split(), &autoreg_tokens::Split::Before("Bar".into()), "MIDI's default split");
    let pipeline = Pipeline::new(&tok, &bpe);
    let bar = (0..tok.vocab_size() as u32).find(|&id| tok.token_name(id).as_deref() == Some("Bar")).unwrap();

    // No merged id holds a Bar except at its start: merges never cross a bar line.
    for id in tok.vocab_size() as u32..bpe.vocab_size() as u32 {
        let (base, unknown) = pipeline.expand(&[id]);
        assert_eq!(unknown, 0);
        assert!(base.len() >= 2 && !base[1..].contains(&bar), "merged id {id}: {:?}", pipeline.token_name(id));
    }
    let (mut before, mut after, mut notes) = (0, 0, 0);
    for doc in &docs {
        let merged = bpe.merge(doc);
        assert_eq!(pipeline.expand(&merged), (doc.clone(), 0));
        assert_eq!(pipeline.count_units(&merged), pipeline.count_units(doc));
        (before, after, notes) = (before + doc.len(), after + merged.len(), notes + pipeline.count_units(doc));
    }
    let (base_per_note, bpe_per_note) = (before as f64 / notes as f64, after as f64 / notes as f64);
    assert!(bpe_per_note * 2.0 < base_per_note, "{base_per_note:.2} base tokens per note, {bpe_per_note:.2} with BPE");
}

#[test]
fn transposition_works_on_base_ids_under_merges() {
    let (files, tok) = melodies();
    let docs: Vec<Vec<u32>> =
        files[..200].iter().flat_map(|f| tok.encode(&Source::new(f, &std::fs::read(f).unwrap())).unwrap()).collect();
    let config = BpeConfig { vocab_size: tok.vocab_size() + 300, min_frequency: 2, split: None };
    let bpe = Bpe::learn(&config, &tok, docs.iter().map(Vec::as_slice)).unwrap();
    let pipeline = Pipeline::new(&tok, &bpe);
    let augment = tok.extras().augment.unwrap();
    let mut moved = 0;
    for (draw, doc) in docs.iter().enumerate().take(100) {
        let mut window = bpe.merge(doc);
        pipeline.augment(&mut window, draw as u64);
        // The same as transposing the base ids, then merging.
        let mut base = doc.clone();
        augment.augment(&mut base, draw as u64);
        assert_eq!(pipeline.expand(&window).0, base);
        assert_eq!(window, bpe.merge(&base));
        moved += usize::from(base != *doc);
    }
    assert!(moved > 50, "{moved} of 100 documents transposed");
}
