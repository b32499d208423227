//! `autoreg sample`.

use super::infill::infill;
use super::interactive;
use crate::cli::ModelArgs;
use crate::cli::SampleArgs;
use crate::errors::error_line;
use crate::page::write_report;
use crate::prepare;
use crate::run::samples::{SampleRecord, SampleSet, record_samples};
use crate::run::{LoadedRun, load_run};
use anyhow::{Context, Result, anyhow, bail};
use autoreg_model::{DraftChoice, SampleError, SampleOptions, SampleOverrides, Sampler};
use autoreg_tokens::{FrameLayout, Parts, Pipeline, SegmentRules, Source, write_atomic};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::Tensor;

/// Generates samples from a run and writes them as files; returns their paths.
/// Everything is generated before anything is written, so a failed run leaves no
/// empty output folder behind.
pub fn sample(args: &SampleArgs) -> Result<Vec<PathBuf>> {
    refuse_unit_flags(args)?;
    let run = load_run(&args.model)?;
    run.warn_if_untrained();
    let tok = run.tokenizer.pipeline();
    // `--per-class N` is the number of samples of each class.
    let overrides = SampleOverrides { num: args.per_class.or(args.overrides.num), ..args.overrides.clone() };
    let options = run.config.sample.with(&overrides);
    // Before any size is derived from them (frames) or allocated.
    options.validate().map_err(|e| flag_error(e, args))?;
    let draft = match &options.draft {
        Some(DraftChoice::Run(dir)) => Some(load_draft(&run, dir, args)?),
        _ => None,
    };
    let run = Runs { run: &run, draft: draft.as_ref() };
    let target = match &args.modality {
        Some(kind) => Some(segment_target(&run, kind)?),
        None => None,
    };
    let frames = prepare::sample_frames(&run.config, &run.tokenizer, target)?;
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

    if let Some(file) = &args.infill {
        let class = args.class.as_deref().map(|c| class_index(tok, c)).transpose()?;
        (written, set) = infill(run, file, class, &options, args)?;
    } else if args.per_class.is_some() {
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
                Some(layout) => frame_options(&prompt, layout, args, options)?,
                None => options,
            };
            rows.push(generate(run, &prompt, frames, rules.as_ref(), &options, args)?);
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
                // Frames start where the prompt ends: a caption the model would write
                // there first has no room.
                let tag = tok.parts().map(|parts| parts.tag(target));
                if frames.is_some() && prompt.last().copied() != tag {
                    bail!(
                        "--modality {}: its sources all have captions, and its samples are whole frames that \
                         follow one: give the caption with --text",
                        args.modality.as_deref().unwrap_or_default()
                    );
                }
                set.label = Some(match &args.text {
                    Some(text) => format!("{} after {text:?}", args.modality.as_deref().unwrap_or_default()),
                    None => args.modality.clone().unwrap_or_default(),
                });
                prompt
            }
            (Some(path), class) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("cannot read the prompt {}", path.display()))?;
                let block = run.model.config().block_size as usize;
                let length = prompt_length(tok, args)?;
                let bytes = prompt_tail(tok, block, path, bytes, length);
                let (prompt, label) = file_prompt(&run, path, &bytes, length, class)?;
                set.label = Some(label);
                prompt
            }
            (None, Some(k)) => {
                let name = tok.classes().get(k).cloned().unwrap_or_else(|| k.to_string());
                set.label = Some(format!("class {name}"));
                tok.class_prompt(k)?
            }
            (None, None) => vec![tok.specials().bos],
        };
        let options = match frames {
            Some(layout) => frame_options(&prompt, layout, args, options)?,
            None => options,
        };
        let samples = generate(run, &prompt, frames, rules.as_ref(), &options, args)?;
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
    if let Err(e) = record_samples(&run.dir, &set) {
        log::warn!("{}", error_line(&e));
    }
    if args.report {
        // The user named `--out`: its recorded samples may show in the page.
        let page = write_report(run.dir.path(), &[], std::slice::from_ref(&args.out), None)
            .with_context(|| format!("cannot write the report of {}", run.dir.path().display()))?;
        eprintln!("wrote {}", page.display());
    }
    Ok(written)
}

/// The flags that people reach for in a modality's own unit (`--prompt-bars 4`) and that
/// do not exist: `--prompt-length` cuts a prompt in any unit. (Left to clap, they would
/// be answered with its nearest flag, `--prompt-frames`, which is for frames alone.)
fn refuse_unit_flags(args: &SampleArgs) -> Result<()> {
    let units = [
        ("--prompt-bars", &args.prompt_bars, "bars"),
        ("--prompt-rows", &args.prompt_rows, "rows"),
        ("--prompt-seconds", &args.prompt_seconds, "seconds"),
        ("--prompt-lines", &args.prompt_lines, "lines"),
    ];
    for (flag, given, unit) in units {
        if let Some(value) = given {
            let n = if value.is_empty() { "N" } else { value };
            bail!(
                "{flag}: no such flag; `--prompt-length {n}` keeps the first {n} {unit} of a prompt cut in {unit} \
                 (it counts in the run's own unit: `autoreg info RUN` names it)"
            );
        }
    }
    Ok(())
}

/// How much of the prompt to keep, in the modality's unit: `--prompt-length`, or
/// `--prompt-frames` for a tokenizer whose prompts are cut in frames. Either keeps at
/// least some of the prompt: a length of 0 is refused for every modality (without a
/// prompt, leave out `--prompt`).
fn prompt_length(tok: Pipeline<'_>, args: &SampleArgs) -> Result<Option<f64>> {
    let unit = tok.base.extras().prompts.map(|p| p.unit());
    let Some(frames) = args.prompt_frames else {
        return match (args.prompt_length, unit) {
            (Some(n), Some(unit)) if !(n > 0.0 && n.is_finite()) => bail!(
                "--prompt-length {n}: must be more than 0: it keeps the first N {unit} of the prompt (to sample \
                 without a prompt, leave out --prompt)"
            ),
            // A prompt without a unit is refused by the tokenizer, whatever the length.
            (length, _) => Ok(length),
        };
    };
    let in_frames = tok.frames().is_some();
    match unit {
        Some(_) if in_frames && frames == 0 => bail!(
            "--prompt-frames 0: must be at least 1: it keeps the first N frames of the prompt (to sample without \
             a prompt, leave out --prompt)"
        ),
        Some(_) if in_frames => Ok(Some(frames as f64)),
        Some(unit) => bail!("--prompt-frames: a {} prompt is cut in {unit}, with --prompt-length", tok.kind()),
        None => bail!("--prompt-frames: a {} prompt cannot be cut", tok.kind()),
    }
}

/// Bytes of a text prompt kept per token of the model's context: a generous
/// multiple (a byte-level BPE token is a few bytes, a character at most 4).
const PROMPT_BYTES_PER_TOKEN: usize = 64;

/// Bytes of a text prompt kept at least, whatever the context.
const PROMPT_BYTES_MIN: usize = 64 << 10;

/// The part of a prompt of text that can matter: the model sees the last `block` tokens
/// of a prompt, so a long one keeps only its last bytes, a generous multiple of the
/// context, from the first whole UTF-8 character. Neither encoded nor echoed whole, a
/// prompt of any size starts at once. A prompt cut to `--prompt-length` units, or not
/// text, is kept whole.
fn prompt_tail(tok: Pipeline<'_>, block: usize, path: &Path, bytes: Vec<u8>, length: Option<f64>) -> Vec<u8> {
    let keep = block.saturating_mul(PROMPT_BYTES_PER_TOKEN).max(PROMPT_BYTES_MIN);
    let end = bytes.len();
    if !tok.base.reads_text() || length.is_some() || end <= keep {
        return bytes;
    }
    let mut start = end - keep;
    while start < end && bytes[start] & 0xc0 == 0x80 {
        start += 1;
    }
    log::warn!(
        "{}: a prompt of {} bytes; only its last {} bytes are kept (the model sees its last {block} tokens)",
        path.display(),
        end,
        end - start
    );
    bytes[start..].to_vec()
}

/// `options` for samples of whole frames continuing `prompt`: `--frames` frames in all,
/// the prompt's included, or as many as `options.max_tokens` holds after the prompt.
/// A sample ends after its last frame, never earlier.
fn frame_options(
    prompt: &[u32],
    layout: FrameLayout,
    args: &SampleArgs,
    options: SampleOptions,
) -> Result<SampleOptions> {
    let len = layout.len;
    let first = layout.first_start(prompt);
    // Whole frames: a class prompt may open the first frame (`FRAME Class_k`).
    let given = (prompt.len() - first) / len;
    // The most frames whose new tokens stay within the sampler's limit.
    let most = given + (SampleOptions::MAX_TOKENS / len).saturating_sub(1);
    let held = |n: usize| if n == 1 { "1 frame".to_owned() } else { format!("{n} frames") };
    let total = match args.frames {
        Some(0) => bail!("--frames 0: must be at least 1"),
        Some(n) if n > most => bail!(
            "--frames {n}: at most {most} frames of {len} tokens (the prompt's included): a sample holds at most \
             {} new tokens",
            SampleOptions::MAX_TOKENS
        ),
        Some(n) if n <= given => {
            bail!("--frames {n}: the prompt holds {} already; ask for more, the prompt's included", held(given))
        }
        Some(n) => n,
        None => {
            let total = given + options.max_tokens / len;
            if total <= given {
                let flag = if args.overrides.max_tokens.is_some() { "--max-tokens" } else { "sample.max_tokens" };
                let after = if given > 0 { format!(" after the prompt's {}", held(given)) } else { String::new() };
                bail!(
                    "{flag} {}: holds no whole frame{after}, and a sample of frames is made of whole frames of {len} tokens: \
                     give at least {len}, or the number of frames with --frames",
                    options.max_tokens
                );
            }
            total
        }
    };
    let new = first + total * len - prompt.len();
    Ok(SampleOptions { max_tokens: new, min_tokens: new, ..options })
}

/// The sampler's complaint about an option, naming the flag that set it (`--per-class`
/// sets the number of samples of each class), or the run's `[sample]` key when no flag
/// did.
fn flag_error(e: SampleError, args: &SampleArgs) -> anyhow::Error {
    let SampleError::BadOption { key, reason } = &e else { return e.into() };
    let flag = match *key {
        "num" if args.per_class.is_some() => Some("--per-class"),
        "max_tokens" if args.frames.is_some() => Some("--frames"),
        key => args.overrides.flag(key),
    };
    match flag {
        Some(flag) => anyhow!("{flag} {reason}"),
        None => e.into(),
    }
}

/// The class number that `class` names: a class name, else a number; refused for a
/// run without classes, with a prompt or without.
fn class_index(tok: Pipeline<'_>, class: &str) -> Result<usize> {
    let classes = tok.classes();
    if classes.is_empty() {
        bail!("--class {class}: this {} run has no classes (its tokenizer is not class-conditional)", tok.kind());
    }
    if let Some(k) = classes.iter().position(|c| c == class) {
        return Ok(k);
    }
    let n = classes.len();
    match class.parse::<usize>() {
        Ok(k) if k < n => Ok(k),
        Ok(k) => bail!("--class {class}: class {k} is out of range: there are {n} classes (0..{})", n - 1),
        Err(_) => bail!("--class {class}: no such class; the classes are {}", classes.join(", ")),
    }
}

/// The ids of the prompt file at `path` (its `bytes`, cut to `length` units) and what
/// its samples are labelled with. In a run with classes, the prompt's class is `class`
/// (`--class`), never taken from the file's folder or name: a prompt may be saved
/// anywhere. Without `--class`, it is the class under which the model finds the prompt
/// likeliest; but a code prompt keeps its extension's language, as a training file does
/// (an extension is the file's type, not where it was put).
pub(super) fn file_prompt(
    run: &LoadedRun,
    path: &Path,
    bytes: &[u8],
    length: Option<f64>,
    class: Option<usize>,
) -> Result<(Vec<u32>, String)> {
    let tok = run.tokenizer.pipeline();
    let classes = tok.classes();
    let continuing = format!("continuing the prompt {}", path.display());
    let own_class = tok.base.extras().classes.is_some_and(|c| c.of_file());
    if classes.is_empty() || (class.is_none() && own_class) {
        return Ok((tok.prompt(&Source::new(path, bytes), length)?, continuing));
    }
    // Without --class, any class stands in until the model has chosen one.
    let given = class.unwrap_or(0);
    let name = classes.get(given).with_context(|| format!("--class {given}: there are {} classes", classes.len()))?;
    let mut prompt = tok.prompt(&Source { path, bytes, label: Some(name) }, length)?;
    if tok.prefix_len(&prompt) != 2 {
        bail!("{}: the {} prompt does not start with its class", path.display(), tok.kind());
    }
    let k = match class {
        Some(k) => k,
        None => {
            let k = likeliest_class(run, &prompt)?;
            set_class(&tok, &mut prompt, k)?;
            eprintln!(
                "{}: class {}, the model's likeliest for it (name the prompt's class with --class)",
                path.display(),
                classes[k]
            );
            k
        }
    };
    Ok((prompt, format!("{continuing} as class {}", classes[k])))
}

/// `prompt` with every class id (`BOS Class_k ...`, and after every frame token where
/// frames repeat it) replaced by the id of class `k`.
fn set_class(tok: &Pipeline<'_>, prompt: &mut [u32], k: usize) -> Result<()> {
    let id = tok.class_prompt(k)?[1];
    let classes = tok.base.extras().classes.map(|c| c.ids()).unwrap_or(0..0);
    prompt.iter_mut().filter(|t| classes.contains(&**t)).for_each(|t| *t = id);
    Ok(())
}

/// The class under which the model finds `prompt` (`BOS Class_k ...`, its class ids
/// replaced by each class's in turn) likeliest: the class of the largest probability of
/// the class token and the ids after it, over the prompt's first `block_size` ids (one
/// window, as in training). Ties go to the first class.
fn likeliest_class(run: &LoadedRun, prompt: &[u32]) -> Result<usize> {
    let tok = run.tokenizer.pipeline();
    let len = prompt.len().min(run.model.config().block_size as usize).max(2);
    let mut prompt = prompt[..len].to_vec();
    let steps = len as i64 - 1;
    let mut best: Option<(usize, f64)> = None;
    for k in 0..tok.classes().len() {
        set_class(&tok, &mut prompt, k)?;
        let row: Vec<i64> = prompt.iter().map(|&t| i64::from(t)).collect();
        let ids = Tensor::f_from_slice(&row)?.f_view([1, len as i64])?.f_to_device(run.device)?;
        // The model's mean cross-entropy of the ids after BOS, as a sum.
        let nll = tch::no_grad(|| -> Result<f64> {
            let loss = run.model.loss(&ids.f_narrow(1, 0, steps)?, &ids.f_narrow(1, 1, steps)?, false);
            Ok(f64::try_from(loss)? * steps as f64)
        })?;
        let nll = if nll.is_nan() { f64::INFINITY } else { nll };
        if best.is_none_or(|(_, b)| nll < b) {
            best = Some((k, nll));
        }
    }
    best.map(|(k, _)| k).context("this run has no classes")
}

/// Creates the output folder.
pub(super) fn create_out(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create the output folder {}", out.display()))
}

/// Says what was written, one line per sample: its file and companions; a long set of
/// samples in one line.
pub(super) fn report_set(out: &Path, samples: &[SampleRecord]) {
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

/// The run sampled, and the draft run of `--draft RUN`.
#[derive(Clone, Copy)]
pub(super) struct Runs<'r> {
    run: &'r LoadedRun,
    draft: Option<&'r LoadedRun>,
}

impl std::ops::Deref for Runs<'_> {
    type Target = LoadedRun;

    fn deref(&self) -> &LoadedRun {
        self.run
    }
}

/// The run that `sample.draft` names, on the same device, refused unless its tokenizer
/// is `run`'s.
fn load_draft(run: &LoadedRun, dir: &Path, args: &SampleArgs) -> Result<LoadedRun> {
    let flag = args.overrides.flag("draft").unwrap_or("sample.draft");
    let draft =
        load_run(&ModelArgs { run_dir: dir.to_path_buf(), checkpoint: Default::default(), device: args.model.device })
            .with_context(|| format!("{flag} {}: cannot load the draft run", dir.display()))?;
    if draft.device != run.device {
        bail!(
            "{flag} {}: the draft is on {:?}, the run on {:?}: give both one device with --device",
            dir.display(),
            draft.device,
            run.device
        );
    }
    let read = |path: PathBuf| -> Result<serde_json::Value> {
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
    };
    if read(draft.dir.tokenizer_path())? != read(run.dir.tokenizer_path())? {
        bail!(
            "{flag} {}: its tokenizer ({}) is not this run's ({}): a draft must share the tokenizer",
            dir.display(),
            draft.dir.tokenizer_path().display(),
            run.dir.tokenizer_path().display()
        );
    }
    Ok(draft)
}

/// Draws samples continuing `prompt`, of `frames` when the run's windows are frames,
/// within a mixture's segments by `rules`, with a progress bar on a terminal; prints
/// the speed, and with a draft how many of its tokens were kept.
pub(super) fn generate(
    run: Runs<'_>,
    prompt: &[u32],
    frames: Option<FrameLayout>,
    rules: Option<&SegmentRules<'_>>,
    options: &SampleOptions,
    args: &SampleArgs,
) -> Result<Vec<Vec<u32>>> {
    // With a draft, rows are drawn one after another and the bar counts every token.
    let rows = if options.draft.is_some() { options.num } else { 1 };
    let bar = if interactive() { ProgressBar::new((options.max_tokens * rows) as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("sampling {bar:30} {pos}/{len} tokens {per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let tok = run.tokenizer.pipeline();
    let specials = tok.specials();
    // Sentinels open an infilling prompt's parts; the model writes none.
    let never: Vec<u32> =
        [specials.bos, specials.pad].into_iter().chain(tok.fim.iter().flat_map(|s| s.ids())).collect();
    let sampler = Sampler::new(&run.model, run.device).never_drawing(&never);
    let sampler = match rules {
        Some(rules) => sampler.with_grammar(rules),
        None => sampler,
    };
    let sampler = match run.draft {
        Some(draft) => sampler.with_draft(&draft.model),
        None => sampler,
    };
    let eos = specials.eos;
    let start = Instant::now();
    let samples =
        sampler.generate(prompt, Some(eos), frames, options, &mut || bar.inc(1)).map_err(|e| flag_error(e, args))?;
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let new: usize = samples.iter().map(|s| s.len() - prompt.len()).sum();
    eprintln!("sampled {new} tokens in {seconds:.2} s: {:.0} tokens/s", new as f64 / seconds.max(1e-9));
    if let (Some(a), Some(draft)) = (sampler.acceptance(), &options.draft) {
        eprintln!(
            "draft {draft}: {} of {} drafted tokens accepted ({:.0}%), {:.2} tokens per step of the model",
            a.accepted,
            a.proposed,
            100.0 * a.rate(),
            a.tokens_per_step()
        );
    }
    Ok(samples)
}

/// The part that `--modality KIND` names in a mixed run.
fn segment_target(run: &LoadedRun, kind: &str) -> Result<usize> {
    let Some(mixture) = run.tokenizer.mixture() else {
        bail!("--modality: this run has one source; --modality and --text are for runs of [[sources]]");
    };
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
        (None, Some(c)) if c != target && run.config.inputs().always_captioned(kind) => Ok(vec![bos, parts.tag(c)]),
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
pub(super) fn write_sample(tok: Pipeline<'_>, tokens: &[u32], base: &Path) -> Result<SampleRecord> {
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
