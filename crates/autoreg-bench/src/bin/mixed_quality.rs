//! Cross-modal generation in a mixed run (`configs/mixed.toml`), each judge's accuracy
//! on real validation data printed beside its accuracy on the samples:
//!
//! - text → image: for each caption of the image source (the digit words), K samples
//!   `BOS <text> word <pixels> ...`, each labelled by the caption of its nearest
//!   training image (L2 over decoded pixels in [0, 1]);
//! - text → speech: the same for the audio source, each recording labelled by the
//!   caption of its nearest training recording in MFCC space (the means and standard
//!   deviations of 13 MFCCs over 25 ms frames, standardized), the recordings decoded
//!   by the run's tokenizer (its codec, when it has one); and whose voice each sample
//!   is like: the speaker of its nearest FSDD training recording (when FSDD is under
//!   the data root).
//!
//! `cargo run --release -p autoreg-bench --bin mixed_quality -- runs/mixed [--per-word K]
//! [--seconds S] [--seed S] [--threads T] [--temperature T]`

use anyhow::{Context, Result, bail};
use autoreg::SavedModality;
use autoreg::cli::{ModelArgs, Which};
use autoreg::run::{LoadedRun, load_run};
use autoreg_audio::AudioTokenizer;
use autoreg_bench::judge::{Judge, decoded_samples, fsdd, mfcc_summary, print_tally, print_voices};
use autoreg_data::TokenStore;
use autoreg_model::{SampleOptions, Sampler};
use autoreg_tokens::{Parts, SegmentRules, Source};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Command-line options.
struct Options {
    run_dir: PathBuf,
    per_word: usize,
    seconds: f64,
    seed: u64,
    threads: i32,
    /// The sampling temperature; the run's `[sample]` one when not given.
    temperature: Option<f64>,
}

fn parse_args() -> Result<Options> {
    let mut o = Options { run_dir: PathBuf::new(), per_word: 10, seconds: 1.5, seed: 1, threads: 2, temperature: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--per-word" => o.per_word = value("--per-word")?.parse()?,
            "--seconds" => o.seconds = value("--seconds")?.parse()?,
            "--seed" => o.seed = value("--seed")?.parse()?,
            "--threads" => o.threads = value("--threads")?.parse()?,
            "--temperature" => o.temperature = Some(value("--temperature")?.parse()?),
            _ if a.starts_with("--") => bail!("unknown option {a}"),
            _ => o.run_dir = PathBuf::from(a),
        }
    }
    if o.run_dir.as_os_str().is_empty() {
        bail!("usage: mixed_quality <run-dir> [--per-word K] [--seconds S] [--seed S] [--threads T] [--temperature T]");
    }
    Ok(o)
}

/// Features of one document's body (its part's ids, `BOS ... EOS`).
type Features<'a> = Box<dyn Fn(&[u32]) -> Result<Vec<f32>> + 'a>;

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
        o.temperature.unwrap_or(run.config.sample.temperature)
    );
    for span in &data.sources {
        let train = data.train.slice(span.train.clone());
        let val = data.val.slice(span.val.clone());
        let Some(part) = train.docs().next().and_then(|d| parts.segments(&d).pop()).map(|s| s.part) else { continue };
        let saved = &mixture.parts()[part];
        let mut voices = None;
        let (features, max_tokens, what): (Features, usize, &str) = match &saved.base {
            SavedModality::Pixels(tok) => {
                (Box::new(|ids: &[u32]| Ok(tok.decode_pixels(ids))), tok.image_tokens() + 1, "text -> image")
            }
            SavedModality::Audio(tok) => {
                voices = voice_judge(tok);
                // Through the part's pipeline, so that a codec decodes its codes.
                let pipeline = saved.pipeline();
                let features = move |ids: &[u32]| {
                    let (samples, rate) = decoded_samples(pipeline, ids)?;
                    Ok(mfcc_summary(&samples, rate))
                };
                let per_second =
                    saved.codec().and_then(|c| c.codes_per_second()).unwrap_or(f64::from(tok.config().sample_rate));
                (Box::new(features), (o.seconds * per_second).ceil() as usize, "text -> speech")
            }
            _ => continue,
        };
        let examples = train
            .docs()
            .filter_map(|d| captioned(parts, &d))
            .map(|(c, body)| Ok((features(&body)?, c)))
            .collect::<Result<Vec<_>>>()?;
        let judge = Judge::new(examples);
        if judge.labels.is_empty() {
            continue;
        }
        println!("\n{what} ({}): {} training examples judge by their nearest neighbour", span.name, judge.labels.len());
        judged(&o, &run, parts, part, (&judge, voices.as_ref()), &val, &features, max_tokens)?;
    }
    Ok(())
}

/// A judge of whose voice a recording is like: FSDD's training recordings (index 5 to
/// 49, read as `audio` reads them) labelled by speaker; `None`, said, without them.
fn voice_judge(audio: &AudioTokenizer) -> Option<Judge> {
    match fsdd(audio) {
        Ok((train, _)) => {
            let rate = audio.config().sample_rate;
            Some(Judge::new(train.iter().map(|r| (mfcc_summary(&r.samples, rate), r.speaker.clone())).collect()))
        }
        Err(e) => {
            println!("voices are not judged: {e:#}");
            None
        }
    }
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

/// The judge's accuracy on the real validation examples, then K samples per caption
/// of the body's part, each after its caption, and the share labelled with it.
#[allow(clippy::too_many_arguments)]
fn judged(
    o: &Options,
    run: &LoadedRun,
    parts: &dyn Parts,
    part: usize,
    (judge, voices): (&Judge, Option<&Judge>),
    val: &TokenStore,
    features: &Features,
    max_tokens: usize,
) -> Result<()> {
    let real: Vec<(String, Vec<u32>)> = val.docs().filter_map(|d| captioned(parts, &d)).collect();
    let mut right = 0;
    for (caption, body) in &real {
        right += usize::from(judge.label(&features(body)?) == caption);
    }
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
    let mut speakers: BTreeMap<String, usize> = BTreeMap::new();
    let start = Instant::now();
    for (k, word) in words.iter().enumerate() {
        let caption = parts.part(c).encode(&Source::new(Path::new("caption"), word.as_bytes()))?;
        let caption = caption.first().map(|d| parts.to_mixed(c, d)).unwrap_or_default();
        let prompt = [vec![tok.specials().bos, parts.tag(c)], caption, vec![parts.tag(part)]].concat();
        let options = SampleOptions {
            num: o.per_word,
            max_tokens,
            seed: o.seed.wrapping_add(k as u64),
            temperature: o.temperature.unwrap_or(run.config.sample.temperature),
            ..run.config.sample.clone()
        };
        let samples = sampler.generate(&prompt, Some(tok.specials().eos), None, &options, &mut || {})?;
        let mut labels: Vec<&str> = Vec::new();
        for sample in &samples {
            let Some(body) = parts.segments(sample).pop() else {
                labels.push("");
                continue;
            };
            let features = features(&body.ids)?;
            labels.push(judge.label(&features));
            if let Some(voices) = voices {
                *speakers.entry(voices.label(&features).to_owned()).or_default() += 1;
            }
        }
        let right = print_tally(word, &labels);
        right_all += right;
        total += samples.len();
    }
    if !speakers.is_empty() {
        print_voices(&speakers);
    }
    let share = 100.0 * right_all as f64 / total.max(1) as f64;
    println!(
        "  overall: {right_all}/{total} = {share:.1}% (chance {:.1}%); sampling took {:.1} s",
        100.0 / words.len().max(1) as f64,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
