//! A long fuzzing campaign: random bytes, mutations of real MIDI files and random token
//! sequences, through reading (lenient and strict), tokenizing, prompts, augmentation and
//! lenient decoding; any panic is reported
//! with the input saved to `fuzz-crash-<n>.bin` in the current folder.
//!
//! `cargo run --release -p autoreg-midi --example fuzz_campaign -- SECONDS [FOLDER]`

use autoreg_midi::{MidiConfig, MidiTokenizer, Scheme, Score};
use autoreg_tokens::{Modality, testing::Tokenize};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(600);
    let folder = args.next().map(PathBuf::from);
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    if let Some(folder) = folder {
        for entry in std::fs::read_dir(folder)? {
            seeds.push(std::fs::read(entry?.path())?);
        }
    }
    let tokenizers = [
        MidiTokenizer::new(MidiConfig { max_bars: 8, transpose: 6, ..MidiConfig::default() })?,
        MidiTokenizer::new(MidiConfig {
            scheme: Scheme::Tsd,
            monophonic: true,
            max_tokens: 64,
            transpose: 127,
            ..MidiConfig::default()
        })?,
        MidiTokenizer::new(MidiConfig { strict: true, time_signatures: Vec::new(), ..MidiConfig::default() })?,
    ];
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let (deadline, start) = (Duration::from_secs(seconds), Instant::now());
    let (mut runs, mut accepted, mut crashes) = (0u64, 0u64, 0u64);
    while start.elapsed() < deadline {
        let bytes = if seeds.is_empty() || rng.random_bool(0.2) {
            (0..rng.random_range(0..512)).map(|_| rng.random()).collect()
        } else {
            mutate(&seeds[rng.random_range(0..seeds.len())], &mut rng)
        };
        let tok = &tokenizers[rng.random_range(0..tokenizers.len())];
        let size = tok.vocab_size() as u32;
        let tokens: Vec<u32> = (0..rng.random_range(0..300)).map(|_| rng.random_range(0..size)).collect();
        let (cut, draw) = (rng.random_range(0..6), rng.random());
        let outcome = std::panic::catch_unwind(|| {
            let ok = tok.encode_bytes(&bytes, "fuzz").is_ok();
            let cut = if cut == 0 { None } else { Some(f64::from(cut)) };
            if let Ok(mut prompt) = tok.prompt_bytes(&bytes, "fuzz", cut) {
                tok.augment(&mut prompt, draw);
            }
            tok.augment(&mut tokens.clone(), draw);
            let decoded = tok.decode_bytes(&tokens).map_err(|e| e.to_string())?;
            Score::from_midi(&decoded, "decoded")
                .map(|_| ())
                .or_else(|e| if e.to_string().contains("no notes") { Ok(()) } else { Err(e.to_string()) })?;
            Ok::<bool, String>(ok)
        });
        match outcome {
            Ok(Ok(ok)) => accepted += u64::from(ok),
            Ok(Err(e)) => return Err(format!("decoded sequence is not a readable MIDI file: {e}").into()),
            Err(_) => {
                let path = format!("fuzz-crash-{crashes}.bin");
                std::fs::write(&path, &bytes)?;
                std::fs::write(format!("{path}.tokens"), format!("{tokens:?}"))?;
                eprintln!("panic: input saved to {path}");
                crashes += 1;
            }
        }
        runs += 1;
        if runs % 100_000 == 0 {
            println!(
                "{runs} executions, {accepted} files accepted, {crashes} panics, {:.0} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "done: {runs} executions (each: one byte input encoded + one token sequence decoded and re-read), \
              {accepted} byte inputs accepted, {crashes} panics, {:.0} s",
        start.elapsed().as_secs_f64()
    );
    if crashes > 0 { Err(format!("{crashes} panics").into()) } else { Ok(()) }
}

/// A mutation of `seed`: flipped, overwritten, inserted or removed bytes, or a cut.
fn mutate(seed: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.random_range(1..8) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..5) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes[at] = rng.random(),
            2 => bytes.insert(at, rng.random()),
            3 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}
