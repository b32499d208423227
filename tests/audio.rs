//! The audio modality end to end through the `autoreg` binary: train a tiny
//! digit-conditional model of `configs/spoken-digits.toml`'s kind, on its mu-law samples
//! (the config without its codec, which `tests/codec.rs` covers), on a few FSDD
//! recordings, then sample a class, fail on an unknown class, and continue a prompt.
//!
//! The recordings come from `fsdd/recordings` under the data root
//! ([`common::shared_data`]).

use crate::common;
use common::{fails, ok, parse_wav, png_size, shared_data, train_with};
use std::path::{Path, PathBuf};

/// Sample rate of FSDD and of the config.
const RATE: u32 = 8000;

/// Writes `spoken-digits.toml` in `dir`: the shipped config without its
/// `[tokenizer.codec]` section, so sample-level.
fn without_codec(dir: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/spoken-digits.toml");
    let text = std::fs::read_to_string(shipped).unwrap();
    let mut in_codec = false;
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            if line.starts_with('[') {
                in_codec = line.trim() == "[tokenizer.codec]";
            }
            !in_codec
        })
        .collect();
    assert!(kept.len() < text.lines().count(), "the shipped config has a codec to leave out");
    let path = dir.join("spoken-digits.toml");
    std::fs::write(&path, kept.join("\n")).unwrap();
    path
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

#[test]
fn spoken_digits_train_sample_class_and_continue_a_prompt() {
    let fsdd = shared_data("fsdd/recordings");
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path();
    // Speaker jackson, every digit: index 0 validates (the config's upstream split
    // "*_[0-4].wav"), 5 and 6 train. The checkout carries only the test split, so its
    // recordings 1 and 2 are copied in as 5 and 6.
    let recordings = s.join("data/fsdd/recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    for digit in 0..10 {
        for (from, index) in [(0, 0), (1, 5), (2, 6)] {
            let (name, dest) = (format!("{digit}_jackson_{from}.wav"), format!("{digit}_jackson_{index}.wav"));
            std::fs::copy(fsdd.join(&name), recordings.join(&dest)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    // The shipped config without its codec, shrunk, with a context of 512 samples so
    // that a 0.05 s prompt fits.
    let config = without_codec(s);
    let sets = [
        "model.block_size=512".into(),
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
    train_with(s, &config, &sets);
    let run = s.join("runs/spoken-digits");
    let r = run.to_str().unwrap();
    let tokenizer = std::fs::read_to_string(run.join("tokenizer.json")).unwrap();
    assert!(tokenizer.contains("\"kind\": \"audio\"") && tokenizer.contains("\"9\""), "{tokenizer}");

    // A class sample: 0.1 s at most (800 new samples), at 8 kHz mono, not silent, and its
    // waveform beside it.
    ok(s, &["sample", r, "--class", "3", "--max-tokens", "800", "--seed", "1", "--out", "class"]);
    let wav = parse_wav(&s.join("class/spoken-digits.wav"));
    assert_eq!((wav.channels, wav.rate), (1, RATE));
    let samples = wav.floats();
    let n = samples.len();
    assert!(n > 0 && n <= 800, "{n} samples for --max-tokens 800");
    let peak = samples.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    eprintln!("class 3: {n} samples, peak {peak:.4}, rms {:.4}", rms(&samples));
    assert!(peak > 0.01 && rms(&samples) > 1e-3, "silent: peak {peak}, rms {}", rms(&samples));
    assert_eq!(png_size(&s.join("class/spoken-digits.png")), (800, 200));

    // An unknown class is a clean error that says how many classes there are.
    let err = fails(s, &["sample", r, "--class", "99", "--max-tokens", "10", "--out", "bad"]);
    assert!(err.contains("class 99") && err.contains("10 classes"), "{err}");
    assert!(!s.join("bad/spoken-digits.wav").exists());
    // --class names a prompt's class; a prompt that cannot be read is named.
    let err = fails(s, &["sample", r, "--class", "3", "--prompt", "x.wav", "--out", "bad"]);
    assert!(err.contains("cannot read the prompt x.wav"), "{err}");

    // A prompt: the first 0.05 s of a validation recording, continued by 800 samples.
    let clip = recordings.join("3_jackson_0.wav");
    let original = parse_wav(&clip).floats();
    let c = clip.to_str().unwrap();
    let args = ["sample", r, "--prompt", c, "--prompt-length", "0.05", "--max-tokens", "800", "--seed", "1"];
    ok(s, &[&args[..], &["--out", "prompt"]].concat());
    let wav = parse_wav(&s.join("prompt/spoken-digits.wav"));
    assert_eq!((wav.channels, wav.rate), (1, RATE));
    // The prompt comes back through 8-bit mu-law: within its relative step of the clip.
    let keeps_prompt = |samples: &[f32], kept: usize, new: usize| {
        let n = samples.len();
        assert!(n > kept && n <= kept + new, "{n} samples: {kept} of the prompt and at most {new} more");
        for (i, (&y, &x)) in samples[..kept].iter().zip(&original).enumerate() {
            assert!((y - x).abs() <= 0.0223 * (x.abs() + 1.0 / 255.0) + 1e-4, "sample {i}: {y} for {x}");
        }
    };
    let kept = (0.05 * f64::from(RATE)) as usize;
    keeps_prompt(&wav.floats(), kept, 800);
    let head = rms(&original[..kept]);
    assert!(head > 1e-3, "the clip's first 0.05 s are too quiet to compare ({head})");
    // The same prompt and seed give the same file; the continuation depends on the seed.
    ok(s, &[&args[..], &["--out", "again"]].concat());
    let again = std::fs::read(s.join("again/spoken-digits.wav")).unwrap();
    assert_eq!(again, std::fs::read(s.join("prompt/spoken-digits.wav")).unwrap());
    assert!(s.join("prompt/spoken-digits.png").is_file());

    // A prompt longer than the context (0.2 s: 1,600 samples, block 512) is kept whole.
    let long = ["sample", r, "--prompt", c, "--prompt-length", "0.2", "--max-tokens", "100", "--out", "long"];
    ok(s, &long);
    keeps_prompt(&parse_wav(&s.join("long/spoken-digits.wav")).floats(), (0.2 * f64::from(RATE)) as usize, 100);
}
