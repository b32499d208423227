//! Learned image and video codes judged beside pixel tokens, every figure measured in
//! one invocation with one judge: the nearest MNIST digit (L2 over 28x28 pixels in
//! [0, 1]) of a labelled set, for images the run's training images, for video the
//! MNIST digits that Moving MNIST is made of, a frame's digit cut out around its ink's
//! centroid (frames of another size than 64x64 are scaled to it first).
//!
//! 1. The codec of RUN: the judge's accuracy on real validation images (frames) and
//!    on the codec's reconstructions of them, the reconstructions' PSNR, and the
//!    codebook's usage (codes used, perplexity).
//! 2. Class-conditional samples of RUN and of each `--pixels` run (a pixel-token run
//!    of the same data): K per class, decoded as `autoreg sample` writes them, judged
//!    (video: every frame of clips of `--frames` frames); video also prints how far the
//!    digit's centroid moves between frames. Beside each, its training time and the
//!    time to sample them, decoding included.
//! 3. Video: the time to sample a clip of 2F frames against F frames, and per frame.
//!
//! `AUTOREG_DATA=... cargo run --release -p autoreg-bench --bin vq_quality -- RUN
//! [--pixels RUN]... [--per-class K] [--frames F] [--seed S] [--temperature T]`

use anyhow::{Context, Result, bail};
use autoreg::SavedModality;
use autoreg::cli::{ModelArgs, Which};
use autoreg::run::{LoadedRun, load_run};
use autoreg_bench::judge::nearest;
use autoreg_data::TokenStore;
use autoreg_model::{SampleOptions, Sampler};
use autoreg_pixels::image::codecs::gif::GifDecoder;
use autoreg_pixels::image::imageops::FilterType;
use autoreg_pixels::image::{AnimationDecoder, DynamicImage, GrayImage};
use autoreg_tokens::{Classes, Signal};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The side of an MNIST digit.
const DIGIT: u32 = 28;
/// The frame side that video frames are judged at.
const FRAME: u32 = 64;

/// Command-line options.
struct Options {
    run: PathBuf,
    pixels: Vec<PathBuf>,
    per_class: usize,
    frames: usize,
    seed: u64,
    /// Overrides the runs' `[sample] temperature`.
    temperature: Option<f64>,
}

fn parse_args() -> Result<Options> {
    let mut o =
        Options { run: PathBuf::new(), pixels: Vec::new(), per_class: 10, frames: 20, seed: 1, temperature: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--pixels" => o.pixels.push(value("--pixels")?.into()),
            "--per-class" => o.per_class = value("--per-class")?.parse()?,
            "--frames" => o.frames = value("--frames")?.parse()?,
            "--seed" => o.seed = value("--seed")?.parse()?,
            "--temperature" => o.temperature = Some(value("--temperature")?.parse()?),
            _ if a.starts_with("--") => bail!("unknown option {a}"),
            _ => o.run = PathBuf::from(a),
        }
    }
    if o.run.as_os_str().is_empty() {
        bail!("usage: vq_quality RUN [--pixels RUN]... [--per-class K] [--frames F] [--seed S] [--temperature T]");
    }
    Ok(o)
}

/// A nearest-neighbour judge over 28x28 digits.
struct Judge {
    digits: Vec<Vec<f32>>,
    labels: Vec<String>,
}

impl Judge {
    /// The label of the digit nearest to `pixels` (squared L2).
    fn label(&self, pixels: &[f32]) -> &str {
        nearest(&self.digits, pixels).map_or("", |i| self.labels[i].as_str())
    }

    /// The label of a frame: its digit cut out around the ink's centroid.
    fn label_frame(&self, frame: &GrayImage) -> &str {
        self.label(&cut_digit(frame))
    }
}

/// Values in [0, 1] of a grey image, row by row.
fn values(image: &GrayImage) -> Vec<f32> {
    image.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect()
}

/// A grey image of `width` x `height` values in [0, 1].
fn grey(width: u32, height: u32, values: &[f32]) -> GrayImage {
    let bytes = values.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
    GrayImage::from_raw(width, height, bytes).unwrap_or_else(|| GrayImage::new(width, height))
}

/// The ink's centroid of a frame; its centre when it has no ink.
fn centroid(frame: &GrayImage) -> (f64, f64) {
    let (mut sx, mut sy, mut total) = (0.0, 0.0, 0.0);
    for (x, y, p) in frame.enumerate_pixels() {
        let v = f64::from(p[0]);
        (sx, sy, total) = (sx + f64::from(x) * v, sy + f64::from(y) * v, total + v);
    }
    if total == 0.0 {
        return (f64::from(frame.width()) / 2.0, f64::from(frame.height()) / 2.0);
    }
    (sx / total, sy / total)
}

/// The 28x28 values around the ink's centroid of a frame scaled to 64x64.
fn cut_digit(frame: &GrayImage) -> Vec<f32> {
    let frame = if frame.dimensions() == (FRAME, FRAME) {
        frame.clone()
    } else {
        DynamicImage::ImageLuma8(frame.clone()).resize_exact(FRAME, FRAME, FilterType::Triangle).to_luma8()
    };
    let (cx, cy) = centroid(&frame);
    let corner = |c: f64| (c - f64::from(DIGIT) / 2.0).round().clamp(0.0, f64::from(FRAME - DIGIT)) as u32;
    let (left, top) = (corner(cx), corner(cy));
    values(&DynamicImage::ImageLuma8(frame).crop_imm(left, top, DIGIT, DIGIT).to_luma8())
}

/// The grey frames of a decoded sample: a PNG's one image, a GIF's frames, shrunk by
/// `scale` to the tokenizer's size.
fn decoded_frames(run: &LoadedRun, ids: &[u32], scale: u32) -> Result<Vec<GrayImage>> {
    let decoded = run.tokenizer.pipeline().decode(ids)?;
    let images: Vec<DynamicImage> = if decoded.extension == "gif" {
        let decoder = GifDecoder::new(std::io::Cursor::new(decoded.bytes))?;
        decoder.into_frames().map(|f| f.map(|f| DynamicImage::ImageRgba8(f.into_buffer()))).collect::<Result<_, _>>()?
    } else {
        vec![autoreg_pixels::image::load_from_memory(&decoded.bytes)?]
    };
    let shrink = |image: DynamicImage| {
        let (w, h) = (image.width() / scale, image.height() / scale);
        image.resize_exact(w, h, FilterType::Nearest).to_luma8()
    };
    Ok(images.into_iter().map(shrink).collect())
}

/// The run's splits in its base ids (pixels), before any codec.
fn base_splits(run: &LoadedRun) -> Result<(TokenStore, TokenStore)> {
    let base = run.tokenizer.before_stages().map_err(anyhow::Error::msg)?;
    let data = autoreg::prepare::reload(&run.config, run.dir.path(), &base, &autoreg_data::Silent)?;
    Ok((data.train, data.val))
}

fn load(dir: &Path) -> Result<LoadedRun> {
    load_run(&ModelArgs { run_dir: dir.to_path_buf(), checkpoint: Which::Best, device: None })
        .with_context(|| format!("loading {}", dir.display()))
}

/// PSNR in dB of values in [0, 1].
fn psnr(mse: f64) -> f64 {
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

/// What a run's class-conditional samples scored.
struct Scored {
    right: usize,
    judged: usize,
    seconds: f64,
    samples: usize,
    /// Video: the centroid's moves between frames, in pixels at 64x64.
    moves: Vec<f64>,
}

/// K samples per class of `run` (clips of `frames` frames for video), judged.
fn sample_classes(run: &LoadedRun, judge: &Judge, o: &Options, frames: usize, video: bool) -> Result<Scored> {
    let pipeline = run.tokenizer.pipeline();
    let names = pipeline.classes().to_vec();
    let layout = autoreg::prepare::sample_frames(&run.config, &run.tokenizer, None)?;
    let eos = pipeline.specials().eos;
    let scale = match &run.tokenizer.base {
        SavedModality::Pixels(t) => t.scale(),
        SavedModality::Video(t) => t.frame().scale(),
        _ => bail!("not an image or video run"),
    };
    let sampler = Sampler::new(&run.model, run.device);
    let mut scored = Scored { right: 0, judged: 0, seconds: 0.0, samples: 0, moves: Vec::new() };
    for (k, name) in names.iter().enumerate() {
        let prompt = pipeline.class_prompt(k)?;
        // Clips of exactly `frames` frames, as `autoreg sample --frames` draws them; an
        // image ends at its EOS.
        let (max_tokens, min_tokens) = match layout {
            Some(layout) => {
                let new = layout.first_start(&prompt) + frames * layout.len - prompt.len();
                (new, new)
            }
            None => (image_tokens(run)? + 1, 0),
        };
        let options = SampleOptions {
            num: o.per_class,
            max_tokens,
            min_tokens,
            seed: o.seed.wrapping_add(k as u64),
            kv_cache: true,
            temperature: o.temperature.unwrap_or(run.config.sample.temperature),
            ..run.config.sample.clone()
        };
        let start = Instant::now();
        let samples = sampler.generate(&prompt, Some(eos), layout, &options, &mut || {})?;
        let decoded: Vec<Vec<GrayImage>> =
            samples.iter().map(|s| decoded_frames(run, s, scale)).collect::<Result<_>>()?;
        scored.seconds += start.elapsed().as_secs_f64();
        scored.samples += samples.len();
        for frames in &decoded {
            for frame in frames {
                let label = if video { judge.label_frame(frame) } else { judge.label(&values(frame)) };
                scored.right += usize::from(label == name);
                scored.judged += 1;
            }
            if video {
                let at: Vec<(f64, f64)> = frames.iter().map(|f| centroid(&scaled(f))).collect();
                scored.moves.extend(at.windows(2).map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1)));
            }
        }
    }
    Ok(scored)
}

/// A frame at 64x64.
fn scaled(frame: &GrayImage) -> GrayImage {
    DynamicImage::ImageLuma8(frame.clone()).resize_exact(FRAME, FRAME, FilterType::Triangle).to_luma8()
}

/// Ids of one image of an image run: codes or pixels.
fn image_tokens(run: &LoadedRun) -> Result<usize> {
    let SavedModality::Pixels(tok) = &run.tokenizer.base else { bail!("not an image run") };
    Ok(match run.tokenizer.codec() {
        Some(codec) => codec.codes_per_signal().unwrap_or(0),
        None => tok.image_tokens(),
    })
}

fn print_scored(name: &str, run: &LoadedRun, s: &Scored, unit: &str) {
    let share = 100.0 * s.right as f64 / s.judged.max(1) as f64;
    let codec = run.tokenizer.codec().map_or(0.0, |c| c.trained().seconds);
    let trained = run.checkpoint.state.elapsed_s + codec;
    println!(
        "  {name:<44} {:>5}/{:<5} = {share:5.1}% of {unit}; trained {:.0} s{}; {} samples in {:.1} s ({:.1} s per 100)",
        s.right,
        s.judged,
        trained,
        if codec > 0.0 { format!(" (the codec {codec:.0} s)") } else { String::new() },
        s.samples,
        s.seconds,
        100.0 * s.seconds / s.samples.max(1) as f64
    );
    if !s.moves.is_empty() {
        let mut moves = s.moves.clone();
        moves.sort_by(f64::total_cmp);
        let mean = moves.iter().sum::<f64>() / moves.len() as f64;
        let under = moves.iter().filter(|&&m| m < f64::from(DIGIT)).count();
        println!(
            "  {:<44} centroid moves per frame: mean {mean:.1} px, median {:.1}, max {:.1}; {under}/{} under a \
             digit's width ({DIGIT} px)",
            "",
            moves[moves.len() / 2],
            moves[moves.len() - 1],
            moves.len()
        );
    }
}

fn main() -> Result<()> {
    let o = parse_args()?;
    let run = load(&o.run)?;
    let Some(codec) = run.tokenizer.codec() else { bail!("{} has no codec", o.run.display()) };
    let (train, val) = base_splits(&run)?;
    let video = matches!(run.tokenizer.base, SavedModality::Video(_));
    println!("{}: {codec}", o.run.display());

    // The judge, and the real images (or frames) with their labels.
    let (judge, real): (Judge, Vec<(Vec<u32>, String)>) = match &run.tokenizer.base {
        SavedModality::Pixels(tok) => {
            let names = tok.names();
            let labelled = |store: &TokenStore| -> Result<Vec<(Vec<f32>, String)>> {
                store
                    .docs()
                    .map(|d| {
                        Ok((
                            tok.decode_pixels(&d),
                            names[tok.class_of(&d).context("an image without a class")?].clone(),
                        ))
                    })
                    .collect()
            };
            let (digits, labels) = labelled(&train)?.into_iter().unzip();
            let symbols = tok.num_symbols();
            let real = val
                .docs()
                .zip(labelled(&val)?)
                .map(|(d, (_, label))| (d.iter().copied().filter(|&t| t < symbols).collect(), label))
                .collect();
            (Judge { digits, labels }, real)
        }
        SavedModality::Video(tok) => {
            let mnist = autoreg_data::find_data("mnist-test/t10k-images-idx3-ubyte.gz")?;
            let digits = autoreg::video::moving_mnist::load_digits(&mnist, true)?;
            let to_values = |d: &Vec<u8>| d.iter().map(|&v| f32::from(v) / 255.0).collect();
            let judge = Judge { digits: digits.images.iter().map(to_values).collect(), labels: digits.labels };
            let names = tok.names();
            let classes = Classes::ids(tok);
            let first = classes.start;
            let mut real = Vec::new();
            for doc in val.docs() {
                let Some(&class) = doc.iter().find(|&&t| classes.contains(&t)) else { bail!("a clip without a class") };
                let (frames, _) = tok.frames_of(&doc);
                real.extend(frames.into_iter().map(|f| (f, names[(class - first) as usize].clone())));
            }
            (judge, real)
        }
        _ => bail!("{} is not an image or video run", o.run.display()),
    };
    let (signal, width, height) = match &run.tokenizer.base {
        SavedModality::Pixels(t) => (t as &dyn Signal, t.width(), t.height()),
        SavedModality::Video(t) => (t as &dyn Signal, t.frame().width(), t.frame().height()),
        _ => unreachable!("checked above"),
    };
    let start = Instant::now();
    let (mut right_real, mut right_codec, mut squared, mut count) = (0, 0, 0.0, 0usize);
    let mut histogram = vec![0u64; codec.codebook_size() as usize];
    for (pixels, label) in &real {
        let original = signal.values(pixels);
        let codes = codec.encode(&original)?;
        codes.iter().for_each(|&c| histogram[c as usize] += 1);
        let back = codec.decode(&codes)?;
        let unit = |v: &[f32]| v.iter().map(|x| (x + 1.0) / 2.0).collect::<Vec<f32>>();
        let (original, back) = (unit(&original), unit(&back));
        squared += original.iter().zip(&back).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>();
        count += original.len();
        let judged = |v: &[f32]| {
            if video { judge.label_frame(&grey(width, height, v)).to_owned() } else { judge.label(v).to_owned() }
        };
        right_real += usize::from(judged(&original) == *label);
        right_codec += usize::from(judged(&back) == *label);
    }
    let total = histogram.iter().sum::<u64>() as f64;
    let entropy: f64 = histogram.iter().filter(|&&n| n > 0).map(|&n| n as f64 / total).map(|p| -p * p.ln()).sum();
    let used = histogram.iter().filter(|&&n| n > 0).count();
    let what = if video { "validation frames" } else { "validation images" };
    println!(
        "\n1. the codec on {} {what} ({:.1} s), judged by the nearest of {} labelled digits:",
        real.len(),
        start.elapsed().as_secs_f64(),
        judge.digits.len()
    );
    let share = |n: usize| 100.0 * n as f64 / real.len().max(1) as f64;
    println!("  real:            {right_real:>5}/{} = {:.1}%", real.len(), share(right_real));
    println!(
        "  reconstructions: {right_codec:>5}/{} = {:.1}% ({:+.1} points; goal: within 2)",
        real.len(),
        share(right_codec),
        share(right_codec) - share(right_real)
    );
    println!(
        "  PSNR {:.1} dB; codes used {used} of {}, perplexity {:.0}",
        psnr(squared / count.max(1) as f64),
        codec.codebook_size(),
        entropy.exp()
    );

    let unit = if video { "frames" } else { "images" };
    println!(
        "\n2. class-conditional samples, {} per class{}{}, judged as above:",
        o.per_class,
        o.temperature.map_or(String::new(), |t| format!(", temperature {t}")),
        if video { format!(", clips of {} frames", o.frames) } else { String::new() }
    );
    let scored = sample_classes(&run, &judge, &o, o.frames, video)?;
    print_scored(&format!("{} (codes)", o.run.display()), &run, &scored, unit);
    let mut baselines = Vec::new();
    for dir in &o.pixels {
        let pixels = load(dir)?;
        let s = sample_classes(&pixels, &judge, &o, o.frames, video)?;
        print_scored(&format!("{} (pixels)", dir.display()), &pixels, &s, unit);
        baselines.push((dir, pixels, s));
    }
    if !video {
        return Ok(());
    }
    println!(
        "\n3. the cost of clips: {} frames against {}, 3 clips of class 0 at batch 1, decoding included (the goal: \
         at most 2.2x)",
        2 * o.frames,
        o.frames
    );
    for (name, run) in std::iter::once((&o.run, &run)).chain(baselines.iter().map(|(d, r, _)| (*d, r))) {
        let (short, long) = (clip_seconds(run, o.frames)?, clip_seconds(run, 2 * o.frames)?);
        println!(
            "  {:<44} {short:.2} s for {} frames, {long:.2} s for {}: {:.2}x; {:.1} ms a frame",
            name.display(),
            o.frames,
            2 * o.frames,
            long / short,
            1000.0 * long / (2 * o.frames) as f64
        );
    }
    Ok(())
}

/// Seconds to sample one clip of `frames` frames of class 0 at batch 1 and decode it,
/// the median of 3.
fn clip_seconds(run: &LoadedRun, frames: usize) -> Result<f64> {
    let pipeline = run.tokenizer.pipeline();
    let layout = autoreg::prepare::sample_frames(&run.config, &run.tokenizer, None)?.context("not a video run")?;
    let prompt = pipeline.class_prompt(0)?;
    let new = layout.first_start(&prompt) + frames * layout.len - prompt.len();
    let sampler = Sampler::new(&run.model, run.device);
    let mut seconds = Vec::new();
    for seed in 0..3 {
        let options = SampleOptions { num: 1, max_tokens: new, seed, kv_cache: true, ..run.config.sample.clone() };
        let start = Instant::now();
        let samples = sampler.generate(&prompt, None, Some(layout), &options, &mut || {})?;
        pipeline.decode(&samples[0])?;
        seconds.push(start.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    Ok(seconds[1])
}
