//! Cross-modal generation in a mixed run (`configs/mixed.toml`), each judge's accuracy
//! on real validation data printed beside its accuracy on the samples:
//!
//! - text → image: for each caption of the image source (the digit words), K samples
//!   `BOS <text> word <pixels> ...`, each labelled by the caption of its nearest
//!   training image (L2 over decoded pixels in [0, 1]);
//! - text → speech: the same for the audio source, each recording labelled by the
//!   caption of its nearest training recording in MFCC space (the means and standard
//!   deviations of 13 MFCCs over 25 ms frames, standardized).
//!
//! `cargo run --release -p autoreg-bench --bin mixed_quality -- runs/mixed [--per-word K]
//! [--seconds S] [--seed S] [--threads T]`

use anyhow::{Context, Result, bail};
use autoreg::SavedModality;
use autoreg::cli::{ModelArgs, Which};
use autoreg::run::{LoadedRun, load_run};
use autoreg_model::{SampleOptions, Sampler};
use autoreg_tokens::{Parts, SegmentRules, Source, TokenStore};
use realfft::RealFftPlanner;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Command-line options.
struct Options {
    run_dir: PathBuf,
    per_word: usize,
    seconds: f64,
    seed: u64,
    threads: i32,
}

fn parse_args() -> Result<Options> {
    let mut o = Options { run_dir: PathBuf::new(), per_word: 10, seconds: 0.6, seed: 1, threads: 2 };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--per-word" => o.per_word = value("--per-word")?.parse()?,
            "--seconds" => o.seconds = value("--seconds")?.parse()?,
            "--seed" => o.seed = value("--seed")?.parse()?,
            "--threads" => o.threads = value("--threads")?.parse()?,
            _ if a.starts_with("--") => bail!("unknown option {a}"),
            _ => o.run_dir = PathBuf::from(a),
        }
    }
    if o.run_dir.as_os_str().is_empty() {
        bail!("usage: mixed_quality <run-dir> [--per-word K] [--seconds S] [--seed S] [--threads T]");
    }
    Ok(o)
}

/// Features of one document's body (its part's ids, `BOS ... EOS`).
type Features<'a> = Box<dyn Fn(&[u32]) -> Vec<f32> + 'a>;

fn main() -> Result<()> {
    let o = parse_args()?;
    let run = load_run(&ModelArgs { run_dir: o.run_dir.clone(), checkpoint: Which::Best, device: None })?;
    tch::set_num_threads(o.threads);
    let mixture = run.tokenizer.mixture().context("not a run of several sources")?;
    let parts: &dyn Parts = mixture;
    let data = autoreg::prepare::reload(&run.config, run.dir.path(), &run.tokenizer, &autoreg_data::Silent)?;
    println!(
        "{} (step {}): {} sources; {} sample(s) per caption, seed {}, temperature {}",
        o.run_dir.display(),
        run.checkpoint.state.step,
        data.sources.len(),
        o.per_word,
        o.seed,
        run.config.sample.temperature
    );
    for span in &data.sources {
        let train = data.train.slice(span.train.clone());
        let val = data.val.slice(span.val.clone());
        let Some(part) = train.docs().next().and_then(|d| parts.segments(d).pop()).map(|s| s.part) else { continue };
        let (features, max_tokens, what): (Features, usize, &str) = match &mixture.parts()[part].base {
            SavedModality::Pixels(tok) => {
                (Box::new(|ids: &[u32]| tok.decode_pixels(ids)), tok.image_tokens() + 1, "text -> image")
            }
            SavedModality::Audio(tok) => {
                let rate = tok.config().sample_rate;
                let features = move |ids: &[u32]| mfcc_summary(&tok.decode_samples(ids), rate);
                (Box::new(features), (o.seconds * f64::from(rate)) as usize, "text -> speech")
            }
            _ => continue,
        };
        let judge = Judge::new(parts, &train, &features)?;
        if judge.labels.is_empty() {
            continue;
        }
        println!("\n{what} ({}): {} training examples judge by their nearest neighbour", span.name, judge.labels.len());
        judged(&o, &run, parts, part, &judge, &val, &features, max_tokens)?;
    }
    Ok(())
}

/// The caption of a mixed document (its first segment, when in the captions' part) and
/// its body (its last segment).
fn captioned(parts: &dyn Parts, doc: &[u32]) -> Option<(String, Vec<u32>)> {
    let c = parts.captions()?;
    let mut segments = parts.segments(doc);
    let body = segments.pop()?;
    let caption = segments.first().filter(|s| s.part == c)?;
    let text = parts.part(c).decode(&caption.ids).ok()?;
    Some((String::from_utf8_lossy(&text.bytes).into_owned(), body.ids))
}

/// Training examples' features with their captions; each feature standardized by the
/// training mean and deviation.
struct Judge {
    features: Vec<Vec<f32>>,
    labels: Vec<String>,
    mean: Vec<f32>,
    scale: Vec<f32>,
}

impl Judge {
    fn new(parts: &dyn Parts, train: &TokenStore, features: &Features) -> Result<Self> {
        let (mut all, mut labels) = (Vec::new(), Vec::new());
        for (caption, body) in train.docs().filter_map(|d| captioned(parts, d)) {
            all.push(features(&body));
            labels.push(caption);
        }
        let dims = all.first().map_or(0, Vec::len);
        let n = all.len().max(1) as f32;
        let mean: Vec<f32> = (0..dims).map(|j| all.iter().map(|f| f[j]).sum::<f32>() / n).collect();
        let scale: Vec<f32> = (0..dims)
            .map(|j| {
                let var = all.iter().map(|f| (f[j] - mean[j]).powi(2)).sum::<f32>() / n;
                if var > 1e-12 { 1.0 / var.sqrt() } else { 1.0 }
            })
            .collect();
        let mut judge = Self { features: Vec::new(), labels, mean, scale };
        judge.features = all.iter().map(|f| judge.standardized(f)).collect();
        Ok(judge)
    }

    fn standardized(&self, f: &[f32]) -> Vec<f32> {
        f.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) * s).collect()
    }

    /// The caption of the training example nearest to `features` (squared L2).
    fn label(&self, features: &[f32]) -> &str {
        let f = self.standardized(features);
        let distance = |g: &Vec<f32>| g.iter().zip(&f).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
        let nearest = self.features.iter().map(distance).enumerate().min_by(|a, b| a.1.total_cmp(&b.1));
        nearest.map_or("", |(i, _)| self.labels[i].as_str())
    }
}

/// The judge's accuracy on the real validation examples, then K samples per caption
/// of the body's part, each after its caption, and the share labelled with it.
#[allow(clippy::too_many_arguments)]
fn judged(
    o: &Options,
    run: &LoadedRun,
    parts: &dyn Parts,
    part: usize,
    judge: &Judge,
    val: &TokenStore,
    features: &Features,
    max_tokens: usize,
) -> Result<()> {
    let real: Vec<(String, Vec<u32>)> = val.docs().filter_map(|d| captioned(parts, d)).collect();
    let right = real.iter().filter(|(caption, body)| judge.label(&features(body)) == caption).count();
    println!(
        "reference: the judge labels {right}/{} = {:.1}% of the real validation examples with their caption",
        real.len(),
        100.0 * right as f64 / real.len().max(1) as f64
    );
    let mut words: Vec<&String> = judge.labels.iter().collect();
    words.sort();
    words.dedup();
    let c = parts.captions().context("no captions")?;
    let tok = run.tokenizer.pipeline();
    let rules = SegmentRules { parts, target: Some(part) };
    let sampler = Sampler::new(&run.model, run.device).with_grammar(&rules);
    let (mut right_all, mut total) = (0, 0);
    let start = Instant::now();
    for (k, word) in words.iter().enumerate() {
        let caption = parts.part(c).encode(&Source::new(Path::new("caption"), word.as_bytes()))?;
        let caption = caption.first().map(|d| parts.to_mixed(c, d)).unwrap_or_default();
        let prompt = [vec![tok.specials().bos, parts.tag(c)], caption, vec![parts.tag(part)]].concat();
        let options = SampleOptions {
            num: o.per_word,
            max_tokens,
            seed: o.seed.wrapping_add(k as u64),
            ..run.config.sample.clone()
        };
        let samples = sampler.generate(&prompt, Some(tok.specials().eos), None, &options, &mut || {})?;
        let labels: Vec<&str> = samples
            .iter()
            .map(|s| parts.segments(s).pop().map_or("", |body| judge.label(&features(&body.ids))))
            .collect();
        let right = labels.iter().filter(|l| **l == word.as_str()).count();
        let mut others: Vec<&str> = labels.iter().copied().filter(|l| *l != word.as_str()).collect();
        others.sort_unstable();
        println!(
            "  {word:>10}: {right:>3}/{} = {:5.1}%{}",
            samples.len(),
            100.0 * right as f64 / samples.len() as f64,
            if others.is_empty() { String::new() } else { format!("   (others judged {})", others.join(", ")) }
        );
        right_all += right;
        total += samples.len();
    }
    let share = 100.0 * right_all as f64 / total.max(1) as f64;
    println!(
        "  overall: {right_all}/{total} = {share:.1}% (chance {:.1}%); sampling took {:.1} s",
        100.0 / words.len().max(1) as f64,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Mel bands, and MFCCs kept of them.
const MEL_BANDS: usize = 26;
const MFCCS: usize = 13;

/// The means and standard deviations over 25 ms frames (10 ms apart, Hamming window,
/// pre-emphasis 0.97) of 13 MFCCs: log energies of 26 triangular mel bands from 20 Hz
/// to half the rate, then a DCT-II. Written here because no maintained Rust crate
/// computes MFCCs; realfft does the transform.
fn mfcc_summary(samples: &[f32], rate: u32) -> Vec<f32> {
    let frame = (0.025 * f64::from(rate)) as usize;
    let hop = (0.010 * f64::from(rate)) as usize;
    let n_fft = frame.next_power_of_two();
    let mut emphasized: Vec<f32> = std::iter::once(samples.first().copied().unwrap_or(0.0))
        .chain(samples.windows(2).map(|w| w[1] - 0.97 * w[0]))
        .collect();
    emphasized.resize(emphasized.len().max(frame), 0.0);
    let window: Vec<f32> =
        (0..frame).map(|i| 0.54 - 0.46 * (2.0 * std::f32::consts::PI * i as f32 / (frame - 1) as f32).cos()).collect();
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let bins = n_fft / 2 + 1;
    let mel = |hz: f64| 2595.0 * (1.0 + hz / 700.0).log10();
    let hz = |m: f64| 700.0 * (10f64.powf(m / 2595.0) - 1.0);
    let (low, high) = (mel(20.0), mel(f64::from(rate) / 2.0));
    let edges: Vec<f64> = (0..MEL_BANDS + 2)
        .map(|i| hz(low + (high - low) * i as f64 / (MEL_BANDS + 1) as f64) * n_fft as f64 / f64::from(rate))
        .collect();
    let mut coefficients: Vec<[f32; MFCCS]> = Vec::new();
    let (mut input, mut spectrum) = (fft.make_input_vec(), fft.make_output_vec());
    for start in (0..=emphasized.len() - frame).step_by(hop.max(1)) {
        input.iter_mut().for_each(|v| *v = 0.0);
        for (i, (v, w)) in emphasized[start..start + frame].iter().zip(&window).enumerate() {
            input[i] = v * w;
        }
        if fft.process(&mut input, &mut spectrum).is_err() {
            continue;
        }
        let power: Vec<f64> = spectrum.iter().map(|c| f64::from(c.norm_sqr()) / n_fft as f64).collect();
        let energies: Vec<f64> = (0..MEL_BANDS)
            .map(|b| {
                let (l, c, r) = (edges[b], edges[b + 1], edges[b + 2]);
                let weight = |k: f64| {
                    if k < l || k > r {
                        0.0
                    } else if k <= c {
                        (k - l) / (c - l)
                    } else {
                        (r - k) / (r - c)
                    }
                };
                let e: f64 = (0..bins).map(|k| weight(k as f64) * power[k]).sum();
                (e + 1e-10).ln()
            })
            .collect();
        let mut c = [0f32; MFCCS];
        for (n, out) in c.iter_mut().enumerate() {
            let sum: f64 = energies
                .iter()
                .enumerate()
                .map(|(m, e)| e * (std::f64::consts::PI * n as f64 * (m as f64 + 0.5) / MEL_BANDS as f64).cos())
                .sum();
            *out = sum as f32;
        }
        coefficients.push(c);
    }
    let n = coefficients.len().max(1) as f32;
    let mean: Vec<f32> = (0..MFCCS).map(|j| coefficients.iter().map(|c| c[j]).sum::<f32>() / n).collect();
    let std: Vec<f32> =
        (0..MFCCS).map(|j| (coefficients.iter().map(|c| (c[j] - mean[j]).powi(2)).sum::<f32>() / n).sqrt()).collect();
    [mean, std].concat()
}
