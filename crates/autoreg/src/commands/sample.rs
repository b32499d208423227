//! `autoreg sample`.

use super::interactive;
use crate::cli::SampleArgs;
use crate::run::load_run;
use anyhow::{Context, Result};
use autoreg_model::{SampleOptions, Sampler};
use autoreg_tokens::PromptCut;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Generates samples from a run and writes them as files; returns their paths.
pub fn sample(args: &SampleArgs) -> Result<Vec<PathBuf>> {
    let run = load_run(&args.model)?;
    let tok = run.tokenizer.as_dyn();
    let options = SampleOptions {
        num: args.num.unwrap_or(run.config.sample.num),
        max_tokens: args.max_tokens.unwrap_or(run.config.sample.max_tokens),
        temperature: args.temperature.unwrap_or(run.config.sample.temperature),
        top_k: args.top_k.or(run.config.sample.top_k),
        top_p: args.top_p.or(run.config.sample.top_p),
        seed: args.seed.unwrap_or(run.config.sample.seed),
        kv_cache: !args.no_kv_cache && run.config.sample.kv_cache,
    };
    let prompt = match (&args.prompt, args.class) {
        (Some(path), _) => {
            let cut = match (args.prompt_bars, args.prompt_rows, args.prompt_seconds) {
                (Some(n), None, None) => PromptCut::Bars(n),
                (None, Some(n), None) => PromptCut::Rows(n),
                (None, None, Some(s)) => PromptCut::Seconds(s),
                (None, None, None) => PromptCut::Whole,
                _ => anyhow::bail!("give at most one of --prompt-bars, --prompt-rows, --prompt-seconds"),
            };
            let bytes = std::fs::read(path).with_context(|| format!("cannot read the prompt {}", path.display()))?;
            tok.encode_prompt(&bytes, &path.display().to_string(), cut)?
        }
        (None, Some(class)) => tok.class_prompt(class)?,
        (None, None) => vec![tok.specials().bos],
    };

    let bar = if interactive() { ProgressBar::new(options.max_tokens as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("sampling {bar:30} {pos}/{len} tokens {per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let sampler = Sampler::new(&run.model, run.device);
    let samples = sampler.generate(&prompt, Some(tok.specials().eos), &options, &mut || bar.inc(1))?;
    bar.finish_and_clear();

    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let stem = run.config.name.clone();
    let mut written = Vec::new();
    for (i, tokens) in samples.iter().enumerate() {
        let name = if samples.len() == 1 { stem.clone() } else { format!("{stem}-{i}") };
        let path = args.out.join(format!("{name}.{}", tok.extension()));
        tok.decode_to_file(tokens, &path)?;
        if tok.kind() == "text" {
            println!("{}", String::from_utf8_lossy(&tok.decode(tokens)?));
        }
        written.push(path.clone());
        written.extend(tok.write_companions(tokens, &path)?);
    }
    for path in &written {
        eprintln!("wrote {}", path.display());
    }
    Ok(written)
}
