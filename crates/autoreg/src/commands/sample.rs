//! `autoreg sample`.

use super::interactive;
use crate::cli::SampleArgs;
use crate::page::{SampleRecord, SampleSet, record_samples, write_report};
use crate::report::error_line;
use crate::run::{LoadedRun, load_run};
use anyhow::{Context, Result, bail};
use autoreg_model::{SampleOptions, Sampler};
use autoreg_tokens::{FrameLayout, Parts, Pipeline, SegmentRules, Source, write_atomic};
use autoreg_train::Cut;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Generates samples from a run and writes them as files; returns their paths.
/// Everything is generated before anything is written, so a failed run leaves no
/// empty output folder behind.
pub fn sample(args: &SampleArgs) -> Result<Vec<PathBuf>> {
    let run = load_run(&args.model)?;
    let tok = run.tokenizer.pipeline();
    let defaults = &run.config.sample;
    let options = SampleOptions {
        num: args.per_class.or(args.num).unwrap_or(defaults.num),
        max_tokens: args.max_tokens.unwrap_or(defaults.max_tokens),
        min_tokens: args.min_tokens.unwrap_or(defaults.min_tokens),
        temperature: args.temperature.unwrap_or(defaults.temperature),
        top_k: args.top_k.or(defaults.top_k),
        top_p: args.top_p.or(defaults.top_p),
        seed: args.seed.unwrap_or(defaults.seed),
        kv_cache: !args.no_kv_cache && defaults.kv_cache,
        decoder: args.decoder.unwrap_or(defaults.decoder),
        threads: args.threads.unwrap_or(defaults.threads),
    };
    let frames = Cut::resolve(&run.config.data, tok).map_err(anyhow::Error::msg)?.frames();
    let target = match &args.modality {
        Some(kind) => Some(segment_target(&run, kind)?),
        None => None,
    };
    let rules = tok.parts().map(|parts| SegmentRules { parts, target });
    if args.frames.is_some() && frames.is_none() {
        bail!("--frames: this {} run's windows are not frames (data.windows = \"frames\")", tok.kind());
    }
    let stem = run.config.name.clone();
    let mut written = Vec::new();
    let mut set = SampleSet {
        time: Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
        out: args.out.clone(),
        step: Some(run.checkpoint.state.step),
        label: None,
        overview: None,
        samples: Vec::new(),
    };

    if args.per_class.is_some() {
        let classes = tok.classes();
        if classes.is_empty() {
            bail!("--per-class: this {} run has no classes", tok.kind());
        }
        let mut rows = Vec::new();
        for k in 0..classes.len() {
            let prompt = tok.class_prompt(k)?;
            // Each class gets its own seed, so adding classes does not change the others.
            let options = SampleOptions { seed: options.seed.wrapping_add(k as u64), ..options.clone() };
            let options = match frames {
                Some(layout) => frame_options(&prompt, layout, args.frames, options)?,
                None => options,
            };
            rows.push(generate(&run, &prompt, frames, rules.as_ref(), &options)?);
        }
        create_out(&args.out)?;
        for (class, samples) in classes.iter().zip(&rows) {
            for (i, tokens) in samples.iter().enumerate() {
                let sample = write_sample(tok, tokens, &args.out.join(format!("{stem}-{class}-{i}")))?;
                set.samples.push(SampleRecord { label: Some(format!("class {class}")), ..sample });
            }
        }
        set.label = Some(format!("every class, {} samples each", options.num));
        let grid = args.out.join(format!("{stem}.png"));
        if tok.write_overview(&rows, &grid)? {
            eprintln!("wrote {} (a row per class)", grid.display());
            set.overview = Some(grid.clone());
            written.push(grid);
        }
        report_set(&args.out, &set.samples);
        written.extend(set.samples.iter().flat_map(|s| s.files.clone()));
    } else {
        let class = args.class.as_deref().map(|c| class_index(tok, c)).transpose()?;
        let prompt = match (&args.prompt, class) {
            _ if let Some(target) = target => {
                let prompt = segment_prompt(&run, args, target)?;
                set.label = Some(match &args.text {
                    Some(text) => format!("{} after {text:?}", args.modality.as_deref().unwrap_or_default()),
                    None => args.modality.clone().unwrap_or_default(),
                });
                prompt
            }
            (Some(path), _) => {
                set.label = Some(format!("continuing the prompt {}", path.display()));
                let bytes =
                    std::fs::read(path).with_context(|| format!("cannot read the prompt {}", path.display()))?;
                tok.prompt(&Source::new(path, &bytes), prompt_length(tok, args)?)?
            }
            (None, Some(k)) => {
                let name = tok.classes().get(k).cloned().unwrap_or_else(|| k.to_string());
                set.label = Some(format!("class {name}"));
                tok.class_prompt(k)?
            }
            (None, None) => vec![tok.specials().bos],
        };
        let options = match frames {
            Some(layout) => frame_options(&prompt, layout, args.frames, options)?,
            None => options,
        };
        let samples = generate(&run, &prompt, frames, rules.as_ref(), &options)?;
        create_out(&args.out)?;
        for (i, tokens) in samples.iter().enumerate() {
            let name = if samples.len() == 1 { stem.clone() } else { format!("{stem}-{i}") };
            let records = match tok.parts() {
                Some(parts) => write_segments(parts, tokens, &args.out.join(name))?,
                None => vec![write_sample(tok, tokens, &args.out.join(name))?],
            };
            set.samples.extend(records.into_iter().map(|r| SampleRecord { label: set.label.clone(), ..r }));
        }
        report_set(&args.out, &set.samples);
        written.extend(set.samples.iter().flat_map(|s| s.files.clone()));
        // A mixture's grid is of the target segments, the last of each sample.
        let (pictured, rows) = match (tok.parts(), target) {
            (Some(parts), Some(t)) => {
                let last = samples.iter().map(|s| parts.segments(s).pop().map(|g| g.ids).unwrap_or_default());
                (parts.part(t), last.collect())
            }
            _ => (tok, samples.clone()),
        };
        if samples.len() > 1 {
            let grid = args.out.join(format!("{stem}-grid.png"));
            if pictured.write_overview(&[rows], &grid)? {
                eprintln!("wrote {}", grid.display());
                set.overview = Some(grid.clone());
                written.push(grid);
            }
        }
    }
    // The run keeps a list of what was sampled from it, for its report; the samples are
    // written whether or not the run can be written to.
    if let Err(e) = record_samples(run.dir.path(), &set) {
        log::warn!("{}", error_line(&e));
    }
    if args.report {
        let page = write_report(run.dir.path(), &[], None)
            .with_context(|| format!("cannot write the report of {}", run.dir.path().display()))?;
        eprintln!("wrote {}", page.display());
    }
    Ok(written)
}

/// How much of the prompt to keep, in the modality's unit: `--prompt-length`, or
/// `--prompt-frames` for a tokenizer whose prompts are cut in frames.
fn prompt_length(tok: Pipeline<'_>, args: &SampleArgs) -> Result<Option<f64>> {
    let Some(frames) = args.prompt_frames else { return Ok(args.prompt_length) };
    match tok.base.extras().prompts.map(|p| p.unit()) {
        Some("frames") => Ok(Some(frames as f64)),
        Some(unit) => bail!("--prompt-frames: a {} prompt is cut in {unit}, with --prompt-length", tok.kind()),
        None => bail!("--prompt-frames: a {} prompt cannot be cut", tok.kind()),
    }
}

/// `options` for samples of whole frames continuing `prompt`: `frames` frames in all,
/// the prompt's included, or as many as `options.max_tokens` holds after the prompt.
/// A sample ends after its last frame, never earlier.
fn frame_options(
    prompt: &[u32],
    layout: FrameLayout,
    frames: Option<usize>,
    options: SampleOptions,
) -> Result<SampleOptions> {
    let first = layout.first_start(prompt);
    let given = (prompt.len() - first).div_ceil(layout.len);
    let total = frames.unwrap_or(given + options.max_tokens / layout.len);
    if total <= given {
        bail!("samples of {total} frames: the prompt holds {given} frames already; ask for more with --frames");
    }
    let new = first + total * layout.len - prompt.len();
    Ok(SampleOptions { max_tokens: new, min_tokens: new, ..options })
}

/// The class number that `class` names: a class name, else a number.
fn class_index(tok: Pipeline<'_>, class: &str) -> Result<usize> {
    let classes = tok.classes();
    if let Some(k) = classes.iter().position(|c| c == class) {
        return Ok(k);
    }
    match class.parse::<usize>() {
        Ok(k) => Ok(k),
        Err(_) if classes.is_empty() => bail!("--class {class}: this {} run has no classes", tok.kind()),
        Err(_) => bail!("--class {class}: no such class; the classes are {}", classes.join(", ")),
    }
}

/// Creates the output folder.
fn create_out(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create the output folder {}", out.display()))
}

/// Says what was written, one line per sample: its file and companions; a long set of
/// samples in one line.
fn report_set(out: &Path, samples: &[SampleRecord]) {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let files: Vec<&[PathBuf]> = samples.iter().map(|s| s.files.as_slice()).collect();
    let (Some(first), Some(last)) = (files.first(), files.last()) else { return };
    if files.len() > 4 {
        let each = match first.len() - 1 {
            0 => String::new(),
            n => format!(", each with {n} companion file(s)"),
        };
        eprintln!(
            "wrote {} samples to {}: {} ... {}{each}",
            files.len(),
            out.display(),
            name(&first[0]),
            name(&last[0])
        );
        return;
    }
    for set in files {
        let companions: Vec<String> = set[1..].iter().map(|p| name(p)).collect();
        let also = if companions.is_empty() { String::new() } else { format!(" (+ {})", companions.join(", ")) };
        eprintln!("wrote {}{also}", set[0].display());
    }
}

/// Draws samples continuing `prompt`, of `frames` when the run's windows are frames,
/// within a mixture's segments by `rules`, with a progress bar on a terminal.
fn generate(
    run: &LoadedRun,
    prompt: &[u32],
    frames: Option<FrameLayout>,
    rules: Option<&SegmentRules<'_>>,
    options: &SampleOptions,
) -> Result<Vec<Vec<u32>>> {
    let bar = if interactive() { ProgressBar::new(options.max_tokens as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("sampling {bar:30} {pos}/{len} tokens {per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let sampler = match rules {
        Some(rules) => Sampler::new(&run.model, run.device).with_grammar(rules),
        None => Sampler::new(&run.model, run.device),
    };
    let eos = run.tokenizer.pipeline().specials().eos;
    let samples = sampler.generate(prompt, Some(eos), frames, options, &mut || bar.inc(1))?;
    bar.finish_and_clear();
    Ok(samples)
}

/// The part that `--modality KIND` names in a mixed run.
fn segment_target(run: &LoadedRun, kind: &str) -> Result<usize> {
    crate::sources::require(&run.config, "--modality")?;
    let mixture = run.tokenizer.mixture().context("this run's tokenizer is not a mixture")?;
    mixture.part_named(kind).with_context(|| {
        let kinds: Vec<&str> = mixture.parts().iter().map(|p| p.pipeline().kind()).collect();
        format!("--modality {kind}: this run has no such modality; its modalities are {}", kinds.join(", "))
    })
}

/// The prompt of `--modality` (and `--text`) in a mixed run, whose part is `target`:
/// `BOS <tag_c> caption <tag>` with a caption; `BOS <tag_c>` when the modality's sources
/// all have captions, so that the model writes one; else `BOS <tag>`.
fn segment_prompt(run: &LoadedRun, args: &SampleArgs, target: usize) -> Result<Vec<u32>> {
    let kind = args.modality.as_deref().unwrap_or_default();
    let tok = run.tokenizer.pipeline();
    let parts = tok.parts().context("this run's tokenizer is not a mixture")?;
    let bos = tok.specials().bos;
    let captions = parts.captions();
    match (&args.text, captions) {
        (Some(_), None) => bail!("--text: this run has no captions; sample it with --modality alone"),
        (Some(text), Some(c)) => {
            let docs = parts.part(c).encode(&Source::new(Path::new("--text"), text.as_bytes()))?;
            let caption = docs.first().map(|d| parts.to_mixed(c, d)).unwrap_or_default();
            if caption.is_empty() {
                bail!("--text: the caption is empty");
            }
            // Text after a text caption goes on in the caption's segment.
            let then = if c == target { Vec::new() } else { vec![parts.tag(target)] };
            Ok([vec![bos, parts.tag(c)], caption, then].concat())
        }
        (None, Some(c)) if c != target && crate::sources::always_captioned(&run.config, kind) => {
            Ok(vec![bos, parts.tag(c)])
        }
        (None, _) => Ok(vec![bos, parts.tag(target)]),
    }
}

/// Decodes each segment of a mixed sample to `<base>-<i>.<ext>` with its companions.
fn write_segments(parts: &dyn Parts, tokens: &[u32], base: &Path) -> Result<Vec<SampleRecord>> {
    let mut records = Vec::new();
    for (i, segment) in parts.segments(tokens).iter().enumerate() {
        let mut name = base.as_os_str().to_owned();
        name.push(format!("-{i}"));
        let part = parts.part(segment.part);
        let record = write_sample(part, &segment.ids, Path::new(&name))?;
        if segment.foreign > 0 {
            log::warn!("{}: {} ids of other modalities were dropped", record.files[0].display(), segment.foreign);
        }
        records.push(record);
    }
    Ok(records)
}

/// Decodes one sample to `<base>.<ext>`, then its companion files; returns the paths,
/// the sample's file first, unlabelled. A sample that is text is also printed.
fn write_sample(tok: Pipeline<'_>, tokens: &[u32], base: &Path) -> Result<SampleRecord> {
    let decoded = tok.decode(tokens)?;
    let mut path = base.as_os_str().to_owned();
    path.push(format!(".{}", decoded.extension));
    let path = PathBuf::from(path);
    write_atomic(&path, &decoded.bytes)?;
    if decoded.repairs > 0 {
        log::warn!(
            "{}: {} generated ids broke the grammar and were repaired or skipped",
            path.display(),
            decoded.repairs
        );
    }
    if decoded.printable {
        println!("{}", String::from_utf8_lossy(&decoded.bytes));
    }
    let mut files = vec![path.clone()];
    files.extend(tok.write_companions(tokens, &path)?);
    Ok(SampleRecord { files, label: None, printable: decoded.printable })
}
