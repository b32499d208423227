//! `autoreg sample`.

use super::interactive;
use crate::cli::SampleArgs;
use crate::run::{LoadedRun, load_run};
use anyhow::{Context, Result, bail};
use autoreg_model::{SampleOptions, Sampler};
use autoreg_tokens::PromptCut;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Generates samples from a run and writes them as files; returns their paths.
pub fn sample(args: &SampleArgs) -> Result<Vec<PathBuf>> {
    let run = load_run(&args.model)?;
    let tok = run.tokenizer.as_dyn();
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
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let stem = run.config.name.clone();
    let mut written = Vec::new();

    if args.per_class.is_some() {
        let classes = tok.classes();
        if classes.is_empty() {
            bail!("--per-class: this {} run has no classes", tok.kind());
        }
        let mut rows = Vec::new();
        for (k, class) in classes.iter().enumerate() {
            let prompt = tok.class_prompt(k)?;
            // Each class gets its own seed, so adding classes does not change the others.
            let options = SampleOptions { seed: options.seed.wrapping_add(k as u64), ..options.clone() };
            let samples = generate(&run, &prompt, &options)?;
            for (i, tokens) in samples.iter().enumerate() {
                written.extend(write_sample(&run, tokens, args.out.join(format!("{stem}-{class}-{i}")))?);
            }
            rows.push(samples);
        }
        let grid = args.out.join(format!("{stem}.png"));
        if tok.write_overview(&rows, &grid)? {
            written.push(grid);
        }
    } else {
        let prompt = match (&args.prompt, args.class) {
            (Some(path), _) => {
                let cut = match (args.prompt_bars, args.prompt_rows, args.prompt_seconds) {
                    (Some(n), None, None) => PromptCut::Bars(n),
                    (None, Some(n), None) => PromptCut::Rows(n),
                    (None, None, Some(s)) => PromptCut::Seconds(s),
                    (None, None, None) => PromptCut::Whole,
                    _ => bail!("give at most one of --prompt-bars, --prompt-rows, --prompt-seconds"),
                };
                let bytes =
                    std::fs::read(path).with_context(|| format!("cannot read the prompt {}", path.display()))?;
                tok.encode_prompt(&bytes, &path.display().to_string(), cut)?
            }
            (None, Some(class)) => tok.class_prompt(class)?,
            (None, None) => vec![tok.specials().bos],
        };
        let samples = generate(&run, &prompt, &options)?;
        for (i, tokens) in samples.iter().enumerate() {
            let name = if samples.len() == 1 { stem.clone() } else { format!("{stem}-{i}") };
            written.extend(write_sample(&run, tokens, args.out.join(name))?);
            if tok.kind() == "text" {
                println!("{}", String::from_utf8_lossy(&tok.decode(tokens)?));
            }
        }
        if samples.len() > 1 {
            let grid = args.out.join(format!("{stem}-grid.png"));
            if tok.write_overview(&[samples], &grid)? {
                written.push(grid);
            }
        }
    }
    for path in &written {
        eprintln!("wrote {}", path.display());
    }
    Ok(written)
}

/// Draws samples continuing `prompt`, with a progress bar on a terminal.
fn generate(run: &LoadedRun, prompt: &[u32], options: &SampleOptions) -> Result<Vec<Vec<u32>>> {
    let bar = if interactive() { ProgressBar::new(options.max_tokens as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("sampling {bar:30} {pos}/{len} tokens {per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let sampler = Sampler::new(&run.model, run.device);
    let eos = run.tokenizer.as_dyn().specials().eos;
    let samples = sampler.generate(prompt, Some(eos), options, &mut || bar.inc(1))?;
    bar.finish_and_clear();
    Ok(samples)
}

/// Decodes one sample to `<base>.<ext>` with its companion files; returns their paths.
fn write_sample(run: &LoadedRun, tokens: &[u32], base: PathBuf) -> Result<Vec<PathBuf>> {
    let tok = run.tokenizer.as_dyn();
    let mut path = base.into_os_string();
    path.push(format!(".{}", tok.extension()));
    let path = PathBuf::from(path);
    tok.decode_to_file(tokens, &path)?;
    let mut written = vec![path.clone()];
    written.extend(tok.write_companions(tokens, &path)?);
    Ok(written)
}
