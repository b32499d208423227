//! Quality of a trained image run, every number beside baselines computed in the same run:
//!
//! - validation bits/dim of the transformer (pixels given the class) beside the
//!   independent-pixel model (a distribution per position, fitted on the training split),
//!   with and without the class;
//! - for a class-conditional run, nats per image of the marginal p(x) = Σ_c p(c) p(x|c)
//!   (the model's own class prior), and for binarized 28x28 runs the published PixelCNN
//!   anchor beside it;
//! - class conditioning: K samples per class, each labelled by its nearest training image
//!   (L2 over decoded pixels in [0, 1]); the share whose label is the requested class,
//!   beside the same nearest-neighbour judge's accuracy on the real validation images.
//!
//! `cargo run --release -p autoreg-bench --bin pixels_quality -- runs/digits [--per-class K]
//! [--seed S] [--marginal N] [--threads T]`

use anyhow::{Context, Result, bail};
use autoreg::SavedModality;
use autoreg::cli::{ModelArgs, Which};
use autoreg::run::{LoadedRun, load_run};
use autoreg_bench::judge::nearest;
use autoreg_data::TokenStore;
use autoreg_model::{SampleOptions, Sampler};
use autoreg_pixels::{Colors, PixelsTokenizer};
use autoreg_tokens::{Classes, Modality, Units};
use std::f64::consts::LN_2;
use std::path::PathBuf;
use std::time::Instant;
use tch::{Kind, Tensor};

/// PixelCNN (van den Oord et al. 2016, table 2): nats per image on binarized MNIST.
const PIXELCNN_NATS: f64 = 81.30;

/// Command-line options.
struct Options {
    run_dir: PathBuf,
    per_class: usize,
    seed: u64,
    marginal: usize,
    threads: i32,
}

fn parse_args() -> Result<Options> {
    let mut o = Options { run_dir: PathBuf::new(), per_class: 20, seed: 1, marginal: 200, threads: 1 };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--per-class" => o.per_class = value("--per-class")?.parse()?,
            "--seed" => o.seed = value("--seed")?.parse()?,
            "--marginal" => o.marginal = value("--marginal")?.parse()?,
            "--threads" => o.threads = value("--threads")?.parse()?,
            _ if a.starts_with("--") => bail!("unknown option {a}"),
            _ => o.run_dir = PathBuf::from(a),
        }
    }
    if o.run_dir.as_os_str().is_empty() {
        bail!("usage: pixels_quality <run-dir> [--per-class K] [--seed S] [--marginal N] [--threads T]");
    }
    Ok(o)
}

fn main() -> Result<()> {
    let o = parse_args()?;
    let args = ModelArgs { run_dir: o.run_dir.clone(), checkpoint: Which::Best, device: None };
    let run = load_run(&args)?;
    tch::set_num_threads(o.threads);
    let SavedModality::Pixels(tok) = &run.tokenizer.base else {
        bail!("{} is a {} run, not an image run", o.run_dir.display(), run.tokenizer.pipeline().kind());
    };
    let config = &run.config;
    let data = autoreg::prepare::reload(config, run.dir.path(), &run.tokenizer, &autoreg_data::Silent)?;
    let symbols = tok.num_symbols();
    println!(
        "{} (step {}): {}x{} {:?}, {} symbols, {} classes; {} training + {} validation images; {} thread(s)",
        o.run_dir.display(),
        run.checkpoint.state.step,
        tok.width(),
        tok.height(),
        tok.colors(),
        symbols,
        tok.names().len(),
        data.train.num_docs(),
        data.val.num_docs(),
        tch::get_num_threads(),
    );

    // Likelihoods on the validation split, pixels only (class tokens and EOS are not counted).
    let start = Instant::now();
    let val: Vec<Vec<u32>> = data.val.docs().map(|d| d.into_owned()).collect();
    let val: Vec<&[u32]> = val.iter().map(Vec::as_slice).collect();
    let dims: usize = val.iter().map(|d| tok.count(d)).sum();
    let per_image = |nats: f64| nats / val.len() as f64;
    let per_dim = |nats: f64| nats / dims as f64;
    let scored = score(&run, tok, &val, None)?;
    let transformer: f64 = scored.iter().map(|s| s.pixels).sum();
    let independent = independent_pixels(tok, &data.train, &val, false);
    let independent_given_class = independent_pixels(tok, &data.train, &val, true);
    println!("\nvalidation likelihood ({} images, {dims} dims), {:.1} s", val.len(), start.elapsed().as_secs_f64());
    println!("{:<44} {:>10} {:>10} {:>12}", "model", "nats/dim", "bits/dim", "nats/image");
    let conditional = !tok.names().is_empty();
    let line = |name: &str, nats: f64| {
        println!("{name:<44} {:>10.4} {:>10.4} {:>12.2}", per_dim(nats), per_dim(nats) / LN_2, per_image(nats));
    };
    line(if conditional { "transformer, p(x | class)" } else { "transformer, p(x)" }, transformer);
    line("independent pixels (per position), p(x)", independent);
    if conditional {
        line("independent pixels per class, p(x | class)", independent_given_class);
    }
    let ratio = transformer / independent;
    println!("transformer / independent pixels: {ratio:.3} of the nats");

    // The marginal likelihood of a conditional model, on a subset: one pass per class.
    let mut marginal_per_image = (!conditional).then(|| per_image(transformer));
    if conditional && o.marginal > 0 {
        let start = Instant::now();
        let subset = &val[..o.marginal.min(val.len())];
        let mut per_class = Vec::new();
        for k in 0..tok.names().len() {
            per_class.push(score(&run, tok, subset, Some(k))?);
        }
        let (mut marginal, mut given_true) = (0.0, 0.0);
        for (i, doc) in subset.iter().enumerate() {
            let terms: Vec<f64> = per_class.iter().map(|s| -s[i].class - s[i].pixels).collect();
            marginal -= log_sum_exp(&terms);
            let true_class = tok.class_of(doc).unwrap_or(0);
            given_true += per_class[true_class][i].pixels;
        }
        let n = subset.len() as f64;
        println!(
            "marginal p(x) = Σ_c p(c|BOS) p(x|c) on the first {} validation images ({:.1} s): \
             {:.2} nats/image ({:.4} bits/dim); p(x | true class) on them: {:.2} nats/image",
            subset.len(),
            start.elapsed().as_secs_f64(),
            marginal / n,
            marginal / n / (dims as f64 / val.len() as f64) / LN_2,
            given_true / n,
        );
        marginal_per_image = Some(marginal / n);
    }
    if tok.levels() == Some(2) && tok.colors() == Colors::Grey && (tok.width(), tok.height()) == (28, 28) {
        println!(
            "published anchor: PixelCNN {PIXELCNN_NATS:.2} nats/image, -log p(x), on the standard binarized \
             MNIST (50k train / 10k test, stochastic binarization). NOT the same split nor binarization: here \
             {} train / {} validation images cut from the 10k MNIST test set, thresholded at 0.5.",
            data.train.num_docs(),
            data.val.num_docs(),
        );
        if let Some(m) = marginal_per_image {
            println!("this run's -log p(x): {m:.2} nats/image");
        }
    }

    if conditional {
        class_accuracy(&run, tok, &data.train, &val, &o)?;
    } else {
        println!("\nclass conditioning: not measured, the run is unconditional");
    }
    Ok(())
}

/// Nats of one image under the transformer.
struct Score {
    /// -log p(class | BOS); 0 when unconditional.
    class: f64,
    /// -log p(pixels | BOS, class).
    pixels: f64,
}

/// Scores `docs` under the run's model; with `class`, each document's class token is
/// replaced by that class first.
fn score(run: &LoadedRun, tok: &PixelsTokenizer, docs: &[&[u32]], class: Option<usize>) -> Result<Vec<Score>> {
    let block = run.model.config().block_size as usize;
    let symbols = tok.num_symbols();
    let class_ids = Classes::ids(tok); // (first class, after the last)
    let pad = i64::from(tok.specials().pad);
    let batch = 32;
    let mut out = Vec::with_capacity(docs.len());
    tch::no_grad(|| -> Result<()> {
        for chunk in docs.chunks(batch) {
            let t = chunk.iter().map(|d| d.len() - 1).max().unwrap_or(1);
            if t > block {
                bail!("an image is {} tokens, the model's context {block}: use windows = \"documents\"", t + 1);
            }
            let mut x = vec![pad; chunk.len() * t];
            let mut y = vec![0i64; chunk.len() * t];
            for (i, doc) in chunk.iter().enumerate() {
                for (j, &tok_id) in doc.iter().enumerate() {
                    let id = match class {
                        Some(k) if class_ids.contains(&tok_id) => class_ids.start + k as u32,
                        _ => tok_id,
                    };
                    if j < doc.len() - 1 {
                        x[i * t + j] = i64::from(id);
                    }
                    if j > 0 {
                        y[i * t + j - 1] = i64::from(id);
                    }
                }
            }
            let shape = [chunk.len() as i64, t as i64];
            let xs = Tensor::from_slice(&x).view(shape).to_device(run.device);
            let ys = Tensor::from_slice(&y).view([shape[0], shape[1], 1]).to_device(run.device);
            let logp = run.model.forward_t(&xs, false).log_softmax(-1, Kind::Float).gather(-1, &ys, false);
            let logp: Vec<f32> = logp.view([-1]).to_device(tch::Device::Cpu).try_into()?;
            for (i, doc) in chunk.iter().enumerate() {
                let mut s = Score { class: 0.0, pixels: 0.0 };
                for j in 0..doc.len() - 1 {
                    let target = y[i * t + j] as u32;
                    let nats = -f64::from(logp[i * t + j]);
                    if target < symbols {
                        s.pixels += nats;
                    } else if class_ids.contains(&target) {
                        s.class += nats;
                    }
                }
                out.push(s);
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Total nats of the validation pixels under a distribution per position (and per class
/// when `by_class`) fitted on the training split with add-one smoothing over the symbols.
fn independent_pixels(tok: &PixelsTokenizer, train: &TokenStore, val: &[&[u32]], by_class: bool) -> f64 {
    let symbols = tok.num_symbols() as usize;
    let pixels = |doc: &[u32]| doc.iter().copied().filter(|&t| (t as usize) < symbols).collect::<Vec<u32>>();
    let group = |doc: &[u32]| if by_class { tok.class_of(doc).unwrap_or(0) } else { 0 };
    let groups = if by_class { tok.names().len().max(1) } else { 1 };
    // counts[group][position][symbol]
    let mut counts: Vec<Vec<Vec<f64>>> = vec![Vec::new(); groups];
    for doc in train.docs() {
        let g = &mut counts[group(&doc)];
        for (i, t) in pixels(&doc).into_iter().enumerate() {
            if g.len() <= i {
                g.resize(i + 1, vec![0.0; symbols]);
            }
            g[i][t as usize] += 1.0;
        }
    }
    let mut total = 0.0;
    for doc in val {
        let g = &counts[group(doc)];
        for (i, t) in pixels(doc).into_iter().enumerate() {
            let (c, sum) = g.get(i).map_or((0.0, 0.0), |row| (row[t as usize], row.iter().sum()));
            total -= ((c + 1.0) / (sum + symbols as f64)).ln();
        }
    }
    total
}

/// log Σ exp(terms).
fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// Decoded pixels of training images with their labels: the nearest-neighbour judge.
struct Judge {
    images: Vec<Vec<f32>>,
    labels: Vec<usize>,
}

impl Judge {
    fn new(tok: &PixelsTokenizer, train: &TokenStore) -> Result<Self> {
        let mut judge = Self { images: Vec::new(), labels: Vec::new() };
        for doc in train.docs() {
            judge.images.push(tok.decode_pixels(&doc));
            judge.labels.push(tok.class_of(&doc).context("a training image without a class")?);
        }
        Ok(judge)
    }

    /// The label of the training image nearest to `pixels` (squared L2).
    fn label(&self, pixels: &[f32]) -> usize {
        self.labels[nearest(&self.images, pixels).unwrap_or(0)]
    }
}

/// Samples `o.per_class` images per class and prints the share that the nearest training
/// image labels with the requested class, beside the judge's accuracy on real images.
fn class_accuracy(
    run: &LoadedRun,
    tok: &PixelsTokenizer,
    train: &TokenStore,
    val: &[&[u32]],
    o: &Options,
) -> Result<()> {
    let judge = Judge::new(tok, train)?;
    let start = Instant::now();
    let mut right_real = 0;
    for doc in val {
        if Some(judge.label(&tok.decode_pixels(doc))) == tok.class_of(doc) {
            right_real += 1;
        }
    }
    let classes = tok.names();
    println!(
        "\nclass conditioning: {} samples per class (seed {}, temperature {}), each labelled by its nearest \
         training image (L2 over pixels in [0, 1])",
        o.per_class, o.seed, run.config.sample.temperature
    );
    println!(
        "reference: the same judge labels {right_real}/{} = {:.1}% of the real validation images right ({:.1} s)",
        val.len(),
        100.0 * right_real as f64 / val.len() as f64,
        start.elapsed().as_secs_f64()
    );
    let per_pixel = if tok.colors() == Colors::Rgb { 3 } else { 1 };
    let image_tokens = (tok.width() * tok.height()) as usize * per_pixel;
    let sampler = Sampler::new(&run.model, run.device);
    let (mut right_all, mut total) = (0, 0);
    let start = Instant::now();
    for (k, name) in classes.iter().enumerate() {
        let options = SampleOptions {
            num: o.per_class,
            max_tokens: image_tokens + 1,
            seed: o.seed.wrapping_add(k as u64),
            kv_cache: true,
            ..run.config.sample.clone()
        };
        let samples = sampler.generate(
            &run.tokenizer.pipeline().class_prompt(k)?,
            Some(tok.specials().eos),
            None,
            &options,
            &mut || {},
        )?;
        let mut labels = vec![0usize; classes.len()];
        for s in &samples {
            labels[judge.label(&tok.decode_pixels(s))] += 1;
        }
        let right = labels[k];
        let mut wrong: Vec<(usize, &String)> = labels
            .iter()
            .zip(classes)
            .enumerate()
            .filter(|&(j, (&n, _))| j != k && n > 0)
            .map(|(_, (&n, c))| (n, c))
            .collect();
        wrong.sort_by_key(|w| std::cmp::Reverse(w.0));
        let wrong: Vec<String> = wrong.iter().map(|(n, c)| format!("{n}x{c}")).collect();
        println!(
            "  class {name:>3}: {right:>3}/{} = {:5.1}%{}",
            samples.len(),
            100.0 * right as f64 / samples.len() as f64,
            if wrong.is_empty() { String::new() } else { format!("   (others look like {})", wrong.join(", ")) }
        );
        right_all += right;
        total += samples.len();
    }
    let share = 100.0 * right_all as f64 / total as f64;
    println!(
        "  overall: {right_all}/{total} = {share:.1}% (target >= 80%: {}); sampling took {:.1} s",
        if share >= 80.0 { "met" } else { "NOT met" },
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
