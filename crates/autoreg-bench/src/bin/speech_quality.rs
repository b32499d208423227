//! Speech through a run's audio tokenizer, judged as `mixed_quality` judges it: each
//! recording is labelled with the digit of its nearest training recording of FSDD
//! (index 5 to 49, the originals) in MFCC space. Printed beside the originals:
//!
//! 1. the codec (or the sample tokens): FSDD's test split (index 0 to 4) encoded and
//!    decoded by the run's tokenizer; the judge's accuracy on the reconstructions, ids
//!    and bits per second, the perplexity of the ids given, the mel-cepstral distortion
//!    and the waveform SNR, and the speed of encoding and decoding;
//! 2. the model, when the run is class-conditional and trained: K samples per class
//!    (`autoreg sample --class k`), the share the judge labels with their class, and
//!    whose voice each sounds like (the speaker of its nearest training recording).
//!
//! `AUTOREG_DATA=... cargo run --release -p autoreg-bench --bin speech_quality -- RUN_DIR
//! [--per-class K] [--seconds S] [--seed S]`
//!
//! RUN_DIR is a run of `configs/spoken-digits.toml`, of the audio source of a mixed
//! run, or a codec alone (`autoreg codec train`, then only part 1).

use anyhow::{Context, Result, bail};
use autoreg::SavedModality;
use autoreg::SavedTokenizer;
use autoreg::cli::{ModelArgs, Which};
use autoreg::run::load_run;
use autoreg_bench::judge::{
    Judge, Recording, decoded_samples, fsdd, mel_cepstral_distortion, mfcc_summary, print_tally, print_voices,
};
use autoreg_model::{SampleOptions, Sampler};
use autoreg_tokens::{Pipeline, Source};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Command-line options.
struct Options {
    run_dir: PathBuf,
    per_class: usize,
    seconds: f64,
    seed: u64,
}

fn parse_args() -> Result<Options> {
    let mut o = Options { run_dir: PathBuf::new(), per_class: 10, seconds: 1.0, seed: 1 };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--per-class" => o.per_class = value("--per-class")?.parse()?,
            "--seconds" => o.seconds = value("--seconds")?.parse()?,
            "--seed" => o.seed = value("--seed")?.parse()?,
            _ if a.starts_with("--") => bail!("unknown option {a}"),
            _ => o.run_dir = PathBuf::from(a),
        }
    }
    if o.run_dir.as_os_str().is_empty() {
        bail!("usage: speech_quality <run-dir> [--per-class K] [--seconds S] [--seed S]");
    }
    Ok(o)
}

fn main() -> Result<()> {
    let o = parse_args()?;
    let tokenizer = SavedTokenizer::load(&o.run_dir.join("tokenizer.json"))?;
    let part = match tokenizer.mixture() {
        Some(mixture) => mixture.part_named("audio").map(|i| &mixture.parts()[i]),
        None => Some(&tokenizer),
    };
    let Some(part) = part else { bail!("{}: the run has no audio tokenizer", o.run_dir.display()) };
    let SavedModality::Audio(audio) = &part.base else { bail!("{}: not an audio tokenizer", o.run_dir.display()) };
    let rate = audio.config().sample_rate;
    let pipeline = part.pipeline();
    let (train, test) = fsdd(audio)?;
    let features: Vec<Vec<f32>> = train.iter().map(|r| mfcc_summary(&r.samples, rate)).collect();
    let judge = Judge::new(features.iter().cloned().zip(train.iter().map(|r| r.digit.clone())).collect());
    let voices = Judge::new(features.into_iter().zip(train.iter().map(|r| r.speaker.clone())).collect());
    println!(
        "{}: {} judged by the nearest of {} training recordings",
        o.run_dir.display(),
        part_name(part),
        train.len()
    );

    reconstruction(&judge, pipeline, &test, rate, part)?;
    if pipeline.classes().is_empty() || !o.run_dir.join("best").exists() || tokenizer.mixture().is_some() {
        return Ok(());
    }
    classes(&o, &judge, &voices, rate, part)
}

/// What the run's audio ids are.
fn part_name(part: &SavedTokenizer) -> String {
    match part.codec() {
        Some(codec) => format!("codec ({codec})"),
        None => "sample tokens".to_owned(),
    }
}

/// Part 1: the test split through the tokenizer and back.
fn reconstruction(
    judge: &Judge,
    pipeline: Pipeline<'_>,
    test: &[Recording],
    rate: u32,
    part: &SavedTokenizer,
) -> Result<()> {
    let (mut right_original, mut right_decoded) = (0, 0);
    let (mut mcd, mut snr, mut seconds) = (0.0, 0.0, 0.0);
    let (mut encode_s, mut decode_s, mut ids_total) = (0.0, 0.0, 0usize);
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for r in test {
        let bytes = std::fs::read(&r.path)?;
        let start = Instant::now();
        let docs = pipeline.encode(&Source::new(&r.path, &bytes))?;
        encode_s += start.elapsed().as_secs_f64();
        let doc = docs.first().context("no document")?;
        let body: Vec<u32> =
            doc.iter().copied().filter(|&id| pipeline.classes().is_empty() || !is_label(pipeline, id)).collect();
        let symbols = pipeline.base.merge_rule().symbols;
        for &id in body.iter().filter(|&&id| id < symbols) {
            *counts.entry(id).or_default() += 1;
            ids_total += 1;
        }
        let start = Instant::now();
        let (decoded, _) = decoded_samples(pipeline, doc)?;
        decode_s += start.elapsed().as_secs_f64();
        right_original += usize::from(judge.label(&mfcc_summary(&r.samples, rate)) == r.digit);
        right_decoded += usize::from(judge.label(&mfcc_summary(&decoded, rate)) == r.digit);
        mcd += mel_cepstral_distortion(&r.samples, &decoded, rate);
        let n = r.samples.len().min(decoded.len());
        snr += autoreg_audio::snr_db(&r.samples[..n], &decoded[..n]);
        seconds += r.samples.len() as f64 / f64::from(rate);
    }
    let n = test.len() as f64;
    let entropy: f64 = counts.values().map(|&c| c as f64 / ids_total as f64).map(|p| -p * p.ln()).sum();
    let per_second = ids_total as f64 / seconds;
    let bits = f64::from(pipeline.base.merge_rule().symbols).log2();
    println!("\nFSDD test split (index 0-4): {} recordings, {seconds:.1} s", test.len());
    println!(
        "  the judge labels the originals right:        {right_original}/{} = {:.1}%",
        test.len(),
        100.0 * right_original as f64 / n
    );
    println!(
        "  the judge labels the reconstructions right:  {right_decoded}/{} = {:.1}%",
        test.len(),
        100.0 * right_decoded as f64 / n
    );
    println!("  ids per second {per_second:.1}, bits per second {:.0} ({bits:.0} bits per id)", per_second * bits);
    println!("  perplexity of the ids given {:.0} of {}", entropy.exp(), pipeline.base.merge_rule().symbols);
    println!(
        "  mel-cepstral distortion {:.2} dB, waveform SNR {:.2} dB (originals: 0 dB and infinite)",
        mcd / n,
        snr / n
    );
    println!("  encoding {:.0}x and decoding {:.0}x real time", seconds / encode_s, seconds / decode_s);
    if let Some(codec) = part.codec() {
        let t = codec.trained();
        println!(
            "  the codec trained {} steps in {:.0} s: reconstruction L1 {:.3}, perplexity {:.0} on its training split",
            t.steps, t.seconds, t.reconstruction_l1, t.perplexity
        );
    }
    Ok(())
}

/// Whether `id` is a class token.
fn is_label(pipeline: Pipeline<'_>, id: u32) -> bool {
    pipeline.base.extras().classes.is_some_and(|c| c.ids().contains(&id))
}

/// Part 2: samples of each class.
fn classes(o: &Options, judge: &Judge, voices: &Judge, rate: u32, part: &SavedTokenizer) -> Result<()> {
    let run = load_run(&ModelArgs { run_dir: o.run_dir.clone(), checkpoint: Which::Best, device: None })?;
    let pipeline = part.pipeline();
    let per_second = part.codec().and_then(|c| c.codes_per_second()).unwrap_or(f64::from(rate));
    let max_tokens = (o.seconds * per_second).ceil() as usize;
    let sampler = Sampler::new(&run.model, run.device);
    println!(
        "\nclass-conditional samples (step {}): {} per class, up to {} s ({max_tokens} ids), seed {}, temperature {}",
        run.checkpoint.state.step, o.per_class, o.seconds, o.seed, run.config.sample.temperature
    );
    let (mut right_all, mut total, mut audio_s) = (0, 0, 0.0);
    let mut speakers: BTreeMap<String, usize> = BTreeMap::new();
    let start = Instant::now();
    for (k, class) in pipeline.classes().iter().enumerate() {
        let prompt = pipeline.class_prompt(k)?;
        let options = SampleOptions {
            num: o.per_class,
            max_tokens,
            seed: o.seed.wrapping_add(k as u64),
            ..run.config.sample.clone()
        };
        let samples = sampler.generate(&prompt, Some(pipeline.specials().eos), None, &options, &mut || {})?;
        let mut labels = Vec::new();
        for ids in &samples {
            let (decoded, _) = decoded_samples(pipeline, ids)?;
            audio_s += decoded.len() as f64 / f64::from(rate);
            let features = mfcc_summary(&decoded, rate);
            labels.push(judge.label(&features).to_owned());
            *speakers.entry(voices.label(&features).to_owned()).or_default() += 1;
        }
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let right = print_tally(class, &labels);
        right_all += right;
        total += samples.len();
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "  overall: {right_all}/{total} = {:.1}% (chance {:.1}%); {audio_s:.1} s of audio in {wall:.1} s, decoding included",
        100.0 * right_all as f64 / total.max(1) as f64,
        100.0 / pipeline.classes().len() as f64
    );
    print_voices(&speakers);
    Ok(())
}
