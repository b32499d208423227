//! The audio modality end to end through the `autoreg` binary: train a tiny
//! digit-conditional model of `configs/spoken-digits.toml`'s kind on a few FSDD
//! recordings, then sample a class, fail on an unknown class, and continue a prompt.
//!
//! The recordings come from `fsdd/recordings` under the shared data root
//! ([`common::shared_data`]).

mod common;
use common::{autoreg, fails, ok, shared_data};
use std::path::Path;

/// Sample rate of FSDD and of the config.
const RATE: u32 = 8000;

/// A WAV file read by hand from its RIFF chunks, independently of the crate's reader.
struct Wav {
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    /// 16-bit samples as values in [-1, 1).
    samples: Vec<f32>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses a 16-bit PCM WAV file, checking the RIFF header and chunk sizes.
fn parse_wav(path: &Path) -> Wav {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "{} is not RIFF/WAVE",
        path.display()
    );
    assert_eq!(u32_at(&bytes, 4) as usize, bytes.len() - 8, "{}: RIFF size", path.display());
    let (mut fmt, mut data) = (None, None);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = u32_at(&bytes, at + 4) as usize;
        let body = bytes.get(at + 8..at + 8 + len).unwrap_or_else(|| panic!("{}: chunk past the end", path.display()));
        match &bytes[at..at + 4] {
            b"fmt " => fmt = Some(body),
            b"data" => data = Some(body),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let fmt = fmt.unwrap_or_else(|| panic!("{}: no fmt chunk", path.display()));
    let data = data.unwrap_or_else(|| panic!("{}: no data chunk", path.display()));
    let wav = Wav {
        format: u16_at(fmt, 0),
        channels: u16_at(fmt, 2),
        rate: u32_at(fmt, 4),
        bits: u16_at(fmt, 14),
        samples: data.chunks_exact(2).map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0).collect(),
    };
    assert_eq!((wav.format, wav.bits), (1, 16), "{}: 16-bit PCM expected", path.display());
    assert_eq!(data.len() % 2, 0, "{}: half a sample", path.display());
    wav
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

/// Checks a PNG's signature and its IHDR size; returns (width, height).
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        b.len() > 24 && b[..8] == *b"\x89PNG\r\n\x1a\n" && &b[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    (be(16), be(20))
}

#[test]
fn spoken_digits_train_sample_class_and_continue_a_prompt() {
    let Some(fsdd) = shared_data("fsdd/recordings") else { return };
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path();
    // Speaker jackson, every digit: index 0 validates (the config's upstream split
    // "*_[0-4].wav"), 5 and 6 train.
    let recordings = s.join("data/fsdd/recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    for digit in 0..10 {
        for index in [0, 5, 6] {
            let name = format!("{digit}_jackson_{index}.wav");
            std::fs::copy(fsdd.join(&name), recordings.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    // The shipped config, shrunk: the context stays 512 so that a 0.05 s prompt fits.
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/spoken-digits.toml");
    let sets = [
        format!("data.root={}", s.join("data").display()),
        format!("data.cache_dir={}", s.join("cache").display()),
        "model.n_layer=1".into(),
        "model.n_head=2".into(),
        "model.n_embd=32".into(),
        "train.batch_size=2".into(),
        "train.max_steps=30".into(),
        "train.warmup_steps=2".into(),
        "train.eval_interval=30".into(),
        "train.eval_batches=1".into(),
        "train.device=cpu".into(),
        "train.threads=1".into(),
    ];
    let mut args = vec!["train".to_owned(), config.display().to_string()];
    args.extend(sets.iter().flat_map(|v| ["--set".to_owned(), v.clone()]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(s, &args);
    let run = s.join("runs/spoken-digits");
    let r = run.to_str().unwrap();
    let tokenizer = std::fs::read_to_string(run.join("tokenizer.json")).unwrap();
    assert!(tokenizer.contains("\"kind\": \"audio\"") && tokenizer.contains("\"9\""), "{tokenizer}");

    // A class sample: 0.1 s at most (800 new samples), at 8 kHz mono, not silent, and its
    // waveform beside it.
    ok(s, &["sample", r, "--class", "3", "--max-tokens", "800", "--seed", "1", "--out", "class"]);
    let wav = parse_wav(&s.join("class/spoken-digits.wav"));
    assert_eq!((wav.channels, wav.rate), (1, RATE));
    let n = wav.samples.len();
    assert!(n > 0 && n <= 800, "{n} samples for --max-tokens 800");
    let peak = wav.samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    eprintln!("class 3: {n} samples, peak {peak:.4}, rms {:.4}", rms(&wav.samples));
    assert!(peak > 0.01 && rms(&wav.samples) > 1e-3, "silent: peak {peak}, rms {}", rms(&wav.samples));
    assert_eq!(png_size(&s.join("class/spoken-digits.png")), (800, 200));

    // An unknown class is a clean error that says how many classes there are.
    let err = fails(s, &["sample", r, "--class", "99", "--max-tokens", "10", "--out", "bad"]);
    assert!(err.contains("class 99") && err.contains("10 classes"), "{err}");
    assert!(!s.join("bad/spoken-digits.wav").exists());
    // --class and --prompt do not go together (clap's usage error, exit 2).
    let out = autoreg(s, &["sample", r, "--class", "3", "--prompt", "x.wav"]);
    assert_eq!(out.status.code(), Some(2));

    // A prompt: the first 0.05 s of a validation recording, continued by 800 samples.
    let clip = recordings.join("3_jackson_0.wav");
    let original = parse_wav(&clip);
    let c = clip.to_str().unwrap();
    let args = ["sample", r, "--prompt", c, "--prompt-seconds", "0.05", "--max-tokens", "800", "--seed", "1"];
    ok(s, &[&args[..], &["--out", "prompt"]].concat());
    let wav = parse_wav(&s.join("prompt/spoken-digits.wav"));
    assert_eq!((wav.channels, wav.rate), (1, RATE));
    let kept = (0.05 * f64::from(RATE)) as usize;
    let n = wav.samples.len();
    assert!(n > kept && n <= kept + 800, "{n} samples: {kept} of the prompt and at most 800 more");
    // The prompt comes back through 8-bit mu-law: within its relative step of the clip.
    for (i, (&y, &x)) in wav.samples[..kept].iter().zip(&original.samples).enumerate() {
        assert!((y - x).abs() <= 0.0223 * (x.abs() + 1.0 / 255.0) + 1e-4, "sample {i}: {y} for {x}");
    }
    let head = rms(&original.samples[..kept]);
    assert!(head > 1e-3, "the clip's first 0.05 s are too quiet to compare ({head})");
    // The same prompt and seed give the same file; the continuation depends on the seed.
    ok(s, &[&args[..], &["--out", "again"]].concat());
    let again = std::fs::read(s.join("again/spoken-digits.wav")).unwrap();
    assert_eq!(again, std::fs::read(s.join("prompt/spoken-digits.wav")).unwrap());
    assert!(s.join("prompt/spoken-digits.png").is_file());
}
