//! One setting of the audio codec, trained on FSDD's training recordings (index 5 to
//! 49) and judged on its test split (index 0 to 4) as `speech_quality` judges a run's:
//! the MFCC nearest-neighbour judge's accuracy on the originals and on the
//! reconstructions, with the training's time, reconstruction L1 and code perplexity.
//! The recordings are read as `configs/spoken-digits.toml`'s tokenizer reads them (8 kHz,
//! 8-bit mu-law), the codec trained as `autoreg train` trains it.
//!
//! `AUTOREG_DATA=... cargo run --release -p autoreg-bench --bin codec_sweep -- [KEY=VALUE ...]`
//!
//! Each KEY=VALUE is a key of `[tokenizer.codec]` (`codebook_size=1024 steps=8000`);
//! `--griffin-lim-only` instead judges the originals' own magnitudes after Griffin-Lim,
//! the bound a codec of magnitudes can reach.

use anyhow::{Context, Result};
use autoreg::audio::AudioConfig;
use autoreg_bench::judge::{Judge, Recording, fsdd, mfcc_summary};
use autoreg_codec::{CodecConfig, Training, train};
use autoreg_tokens::{ModalityBuilder, Signal};
use std::time::Instant;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let magnitudes_only = args.iter().any(|a| a == "--griffin-lim-only");
    let settings: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let toml: String = settings.iter().map(|a| format!("{a}\n")).collect();
    let config: CodecConfig = toml::from_str(&toml).with_context(|| format!("the settings {settings:?}"))?;
    config.validate().map_err(anyhow::Error::msg)?;
    let audio = AudioConfig::default().build(&[])?;
    // As the run reads them: mu-law levels, back to values.
    let (train_set, test_set) = fsdd(&audio)?;
    let values = |r: Recording| (audio.values(&audio.ids(&r.samples)), r.digit);
    let (train_set, test_set): (Vec<_>, Vec<_>) =
        (train_set.into_iter().map(values).collect(), test_set.into_iter().map(values).collect());
    let judge = Judge::new(train_set.iter().map(|(v, d)| (mfcc_summary(v, 8000), d.clone())).collect());
    let right = |decode: &dyn Fn(&[f32]) -> Result<Vec<f32>>| -> Result<usize> {
        let mut right = 0;
        for (values, digit) in &test_set {
            right += usize::from(judge.label(&mfcc_summary(&decode(values)?, 8000)) == digit);
        }
        Ok(right)
    };
    let originals = right(&|v| Ok(v.to_vec()))?;
    println!("FSDD: {} training recordings judge {} test recordings", train_set.len(), test_set.len());
    println!("  originals:        {originals}/{}", test_set.len());
    if magnitudes_only {
        for iterations in [8, 32, 100] {
            let bound = right(&|v| Ok(autoreg_codec::griffin_lim_of(v, &config, iterations)?))?;
            println!(
                "  Griffin-Lim ({iterations} iterations) of the originals' magnitudes: {bound}/{}",
                test_set.len()
            );
        }
        return Ok(());
    }
    let signals: Vec<Vec<f32>> = train_set.iter().map(|(v, _)| v.clone()).collect();
    let shape = audio.shape();
    let training = Training { progress: &autoreg_data::Silent, checkpoints: None };
    let codec = train(&config, shape, &signals, "codec-audio.safetensors".into(), training)?;
    let t = codec.trained();
    let start = Instant::now();
    let reconstructions = right(&|v| Ok(codec.decode(&codec.encode(v)?)?))?;
    let seconds: f64 = test_set.iter().map(|(v, _)| v.len() as f64 / 8000.0).sum();
    println!("  reconstructions:  {reconstructions}/{}", test_set.len());
    println!(
        "  {codec}\n  training: reconstruction L1 {:.3}, code perplexity {:.0}; encoding and decoding {:.0}x real time",
        t.reconstruction_l1,
        t.perplexity,
        seconds / start.elapsed().as_secs_f64()
    );
    Ok(())
}
