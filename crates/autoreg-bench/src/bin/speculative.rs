//! Sampling past the memory wall on trained models, in one run: int8 weights and
//! speculative decoding beside plain f32 decoding.
//!
//! Trains `shakespeare-char`, `melody` and `python-code` as shipped, each for the same
//! wall-clock budget, and a draft for shakespeare-char a quarter of its size (n_embd 64
//! instead of 128: a quarter of the parameters of the blocks). Then prints:
//! - validation loss through libtorch (f32) and through the native decoder's int8
//!   weights, each model, and their ratio;
//! - greedy decoding of 512 tokens at batch 1 on one thread, plain beside speculative
//!   (python-code with n-gram lookup, shakespeare-char with the draft and with lookup):
//!   tokens/s, the speed-up, the acceptance rate, and whether the tokens are the same;
//! - the same at temperature 1 (the speed-up only: the tokens differ by design);
//! - the distribution of the first token after a fixed context (of a validation text's
//!   first 400 windows of 8 tokens, the one the model is least sure after) under
//!   speculative sampling with the draft (100,000 rows), against the model's own
//!   distribution there: a chi-square test (cells of expected count below 5 pooled), with its
//!   p-value by the Wilson-Hilferty approximation, at temperature 1 and at temperature
//!   0.8 with top-k 10.
//!
//! `AUTOREG_DATA=../shared/datasets cargo run --release -p autoreg-bench --bin speculative -- [--budget-s 120]
//! [--work DIR --keep] [--reuse]`

use anyhow::{Context, Result};
use autoreg::cli::{ModelArgs, Which};
use autoreg::run::{LoadedRun, load_run};
use autoreg_bench::budget::{Work, bench_config, train_for};
use autoreg_bench::{agreement, median, project_root};
use autoreg_model::{Decoder, DraftChoice, NativeModel, Readout, SampleOptions, Sampler, Weights};
use autoreg_train::{Scorer, evaluate};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Int8 and speculative decoding on trained models.
#[derive(Debug, Parser)]
struct Options {
    /// Training seconds per model.
    #[arg(long, default_value_t = 120.0)]
    budget_s: f64,
    /// Steps of each calibration run.
    #[arg(long, default_value_t = 20)]
    calib_steps: i64,
    /// Rows of the chi-square test.
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Measure the runs a kept earlier run left in `--work`, training none.
    #[arg(long)]
    reuse: bool,
    #[command(flatten)]
    work: Work,
}

/// New tokens per timed sample.
const NEW: usize = 512;
/// Timed repetitions; the median counts.
const REPEATS: usize = 3;

fn main() -> Result<()> {
    let o = Options::parse();
    let work = o.work.create("speculative")?;
    let train = |config: &autoreg::Config| -> Result<PathBuf> {
        if o.reuse {
            return Ok(config.run_dir());
        }
        Ok(train_for(config, &work, o.budget_s, o.calib_steps)?.run_dir)
    };
    let mut runs = Vec::new();
    for name in ["shakespeare-char", "melody", "python-code"] {
        let (config, _) = bench_config(&project_root().join(format!("configs/{name}.toml")), &work)?;
        runs.push(train(&config)?);
    }
    let (mut draft_config, _) = bench_config(&project_root().join("configs/shakespeare-char.toml"), &work)?;
    draft_config.name = "shakespeare-char-draft".into();
    draft_config.model.n_embd = 64;
    let draft_dir = train(&draft_config)?;
    let load = |dir: &Path| load_run(&ModelArgs { run_dir: dir.to_path_buf(), checkpoint: Which::Last, device: None });

    println!(
        "speculative: {:.0} s of training per model, {} thread(s) for libtorch",
        o.budget_s,
        tch::get_num_threads()
    );
    println!("validation loss (nats/token, windows advancing by block/2), f32 through libtorch and int8 weights:");
    for dir in &runs {
        let run = load(dir)?;
        let (f32s, int8) = int8_quality(&run)?;
        println!(
            "  {:<18} f32 {f32s:.4}  int8 {int8:.4}  int8 / f32 {:.4} ({:+.2}%)",
            run.config.name,
            int8 / f32s,
            100.0 * (int8 / f32s - 1.0)
        );
    }

    let shakespeare = load(&runs[0])?;
    let code = load(&runs[2])?;
    let draft = load(&draft_dir)?;
    println!("decoding {NEW} tokens at batch 1, native decoder, 1 thread, medians of {REPEATS}:");
    for temperature in [0.0, 1.0] {
        speed(&code, None, DraftChoice::Ngram, temperature)?;
        speed(&shakespeare, Some(&draft), DraftChoice::Run(draft_dir.clone()), temperature)?;
        speed(&shakespeare, None, DraftChoice::Ngram, temperature)?;
    }
    println!("first token after a fixed context, {} rows of speculative sampling with the draft:", o.rows);
    for (temperature, top_k) in [(1.0, None), (0.8, Some(10))] {
        chi_square(&shakespeare, &draft, &draft_dir, temperature, top_k, o.rows)?;
    }
    o.work.finish(&work)
}

/// Validation loss of `run` through libtorch and through int8 weights.
fn int8_quality(run: &LoadedRun) -> Result<(f64, f64)> {
    let data = autoreg::prepare::reload(&run.config, run.dir.path(), &run.tokenizer, &autoreg_data::Silent)?;
    let tok = run.tokenizer.pipeline();
    let block = run.model.config().block_size as usize;
    let batch = run.config.train.batch_size.max(1) as usize;
    let native = tch::no_grad(|| NativeModel::new(&run.model, Weights::Int8))?;
    let loss = |scorer| evaluate(&run.model, scorer, &data.val, data.windows, tok, batch, Some(block / 2)).loss;
    Ok((loss(Scorer::Torch(run.device)), loss(Scorer::Native(&native))))
}

/// The start of `run`'s first validation document, at most `len` tokens: a prompt.
fn prompt(run: &LoadedRun, len: usize) -> Result<Vec<u32>> {
    let data = autoreg::prepare::reload(&run.config, run.dir.path(), &run.tokenizer, &autoreg_data::Silent)?;
    let doc = (0..data.val.num_docs()).map(|i| data.val.doc(i)).find(|d| d.len() > len).context("no long document")?;
    Ok(doc[..len].to_vec())
}

/// Prints plain beside speculative decoding of `run` with `draft` (a loaded draft run
/// for `DraftChoice::Run`).
fn speed(run: &LoadedRun, draft_run: Option<&LoadedRun>, draft: DraftChoice, temperature: f64) -> Result<()> {
    let prompt = prompt(run, 64)?;
    let sampler = Sampler::new(&run.model, run.device);
    let sampler = match draft_run {
        Some(d) => sampler.with_draft(&d.model),
        None => sampler,
    };
    let plain = SampleOptions {
        num: 1,
        max_tokens: NEW,
        temperature,
        seed: 5,
        decoder: Decoder::Native,
        threads: 1,
        ..Default::default()
    };
    let fast = SampleOptions { draft: Some(draft.clone()), ..plain.clone() };
    let int8 = |o: &SampleOptions| SampleOptions { weights: Weights::Int8, ..o.clone() };
    let kinds = [plain.clone(), fast.clone(), int8(&plain), int8(&fast)];
    let mut secs = vec![Vec::new(); kinds.len()];
    let mut rows = vec![Vec::new(); kinds.len()];
    let mut accepted = Vec::new();
    // Alternating repetitions, so that a slow spell of the machine hits every kind.
    for _ in 0..REPEATS {
        for ((options, secs), rows) in kinds.iter().zip(&mut secs).zip(&mut rows) {
            let start = Instant::now();
            *rows = sampler.generate(&prompt, None, None, options, &mut || {})?;
            secs.push(start.elapsed().as_secs_f64());
            if options.draft.is_some() {
                accepted.push(sampler.acceptance().context("no acceptance after a speculative run")?);
            }
        }
    }
    let rates: Vec<f64> = secs.iter_mut().map(|s| NEW as f64 / median(s)).collect();
    let a = accepted[0];
    let what = match &draft {
        DraftChoice::Ngram => "n-gram lookup".to_string(),
        DraftChoice::Run(_) => "draft n_embd 64".to_string(),
    };
    println!(
        "  {:<18} temperature {temperature}, {what}: f32 plain {:6.0} tokens/s, speculative {:6.0} ({:.2}x); int8 plain \
         {:6.0}, speculative {:6.0} ({:.2}x, {:.2}x f32 plain); {:.0}% of {} drafted tokens accepted, {:.2} tokens per \
         step{}",
        run.config.name,
        rates[0],
        rates[1],
        rates[1] / rates[0],
        rates[2],
        rates[3],
        rates[3] / rates[2],
        rates[3] / rates[0],
        100.0 * a.rate(),
        a.proposed,
        a.tokens_per_step(),
        if temperature == 0.0 { format!("; tokens {}", agreement(&rows[0], &rows[1])) } else { String::new() }
    );
    Ok(())
}

/// The chi-square test of the first token drawn after a fixed context by speculative
/// sampling with the draft, against the model's distribution there.
fn chi_square(
    run: &LoadedRun,
    draft: &LoadedRun,
    draft_dir: &Path,
    temperature: f64,
    top_k: Option<usize>,
    rows: usize,
) -> Result<()> {
    // The context: of the first 400 windows of 8 tokens of a validation document, the
    // one after which the model's distribution (as the sampler makes it) is the most
    // spread, so that the test has many cells.
    let native = tch::no_grad(|| NativeModel::new(&run.model, Weights::F32))?;
    let text = prompt(run, 408)?;
    let (prompt, p) = (0..400)
        .map(|at| {
            let window = &text[at..at + 8];
            let logits = native.forward(window, window.len(), &mut native.new_cache(1), 1, Readout::Last);
            (window.to_vec(), distribution(&logits, temperature, top_k))
        })
        .max_by(|a, b| entropy(&a.1).total_cmp(&entropy(&b.1)))
        .context("no context")?;
    let sampler = Sampler::new(&run.model, run.device).with_draft(&draft.model);
    let mut counts = vec![0usize; p.len()];
    // Rows in batches, each its own seed; 2 tokens, so that a draft proposes the first.
    let batch = SampleOptions::MAX_NUM.min(rows);
    for (i, start) in (0..rows).step_by(batch).enumerate() {
        let options = SampleOptions {
            num: batch.min(rows - start),
            max_tokens: 2,
            temperature,
            top_k,
            seed: 100 + i as u64,
            decoder: Decoder::Native,
            threads: 1,
            draft: Some(DraftChoice::Run(PathBuf::from(draft_dir))),
            draft_tokens: 1,
            ..Default::default()
        };
        for row in sampler.generate(&prompt, None, None, &options, &mut || {})? {
            counts[row[prompt.len()] as usize] += 1;
        }
    }
    let a = sampler.acceptance().context("no acceptance")?;
    // Cells of expected count below 5 pooled into one.
    let (mut stat, mut cells, mut pooled) = (0.0, 0usize, (0.0, 0.0));
    for (&c, &p) in counts.iter().zip(&p) {
        let expected = rows as f64 * p;
        if expected >= 5.0 {
            stat += (c as f64 - expected).powi(2) / expected;
            cells += 1;
        } else {
            pooled = (pooled.0 + c as f64, pooled.1 + expected);
        }
    }
    if pooled.1 > 0.0 {
        stat += (pooled.0 - pooled.1).powi(2) / pooled.1;
        cells += 1;
    }
    let df = cells.saturating_sub(1).max(1);
    println!(
        "  temperature {temperature}, top-k {top_k:?}: chi-square {stat:.1} over {df} degrees of freedom, p-value \
         {:.3}; {:.0}% of the draft's first tokens accepted",
        p_value(stat, df as f64),
        100.0 * a.rate()
    );
    Ok(())
}

/// The entropy of `p`, in nats.
fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|&&v| v > 0.0).map(|v| v * v.ln()).sum::<f64>()
}

/// Softmax of `logits` after `temperature` and top-k, in f64.
fn distribution(logits: &[f32], temperature: f64, top_k: Option<usize>) -> Vec<f64> {
    let mut l: Vec<f64> = logits.iter().map(|&v| f64::from(v) / temperature).collect();
    if let Some(k) = top_k.filter(|&k| k < l.len()) {
        let mut sorted = l.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[k - 1];
        l.iter_mut().filter(|v| **v < kth).for_each(|v| *v = f64::NEG_INFINITY);
    }
    let max = l.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let e: Vec<f64> = l.iter().map(|v| (v - max).exp()).collect();
    let total: f64 = e.iter().sum();
    e.iter().map(|v| v / total).collect()
}

/// P(X ≥ `stat`) for a chi-square variable of `df` degrees of freedom, by the
/// Wilson-Hilferty cube-root normal approximation.
fn p_value(stat: f64, df: f64) -> f64 {
    let z = ((stat / df).cbrt() - (1.0 - 2.0 / (9.0 * df))) / (2.0 / (9.0 * df)).sqrt();
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' `erfcc`, relative error below
/// 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ];
    let sum = poly.iter().rev().fold(0.0, |acc, c| acc * t + c);
    let r = t * (-z * z + sum).exp();
    if x >= 0.0 { r } else { 2.0 - r }
}
