//! `autoreg train`.

use super::interactive;
use crate::cli::TrainArgs;
use crate::config::Config;
use crate::registry::SavedTokenizer;
use anyhow::{Context, Result, bail};
use autoreg_tokens::write_atomic;
use autoreg_train::{RunDir, TrainSummary, Trainer, list_files, load_dataset, resolve_data_path};

/// Trains a new run from a config, or resumes one; returns how it ended.
pub fn train(args: &TrainArgs) -> Result<TrainSummary> {
    let (config, run, resume) = match (&args.config, &args.resume) {
        (Some(path), None) => {
            let config = Config::load(path, &args.set)?;
            let run = RunDir::new(config.run_dir());
            (config, run, false)
        }
        (Some(path), Some(None)) => {
            let run = RunDir::new(Config::load(path, &[])?.run_dir());
            (resumed_config(&run, &args.set)?, run, true)
        }
        (None, Some(Some(dir))) => {
            let run = RunDir::new(dir);
            (resumed_config(&run, &args.set)?, run, true)
        }
        (Some(_), Some(Some(_))) => bail!("give either a config file or --resume RUN_DIR, not both"),
        (None, _) => bail!("give a config file (autoreg train configs/NAME.toml) or --resume RUN_DIR"),
    };
    let data_path = resolve_data_path(&config.data)?;
    let files = list_files(&data_path, config.tokenizer.extensions())?;

    let tokenizer = if resume {
        SavedTokenizer::load(&run.tokenizer_path())?
    } else {
        if run.checkpoint("last").is_ok() {
            bail!(
                "{} already holds a trained run: continue it with --resume, or train under another name (--set name=...)",
                run.path().display()
            );
        }
        let tokenizer = config.tokenizer.build(&files)?;
        run.create()?;
        write_atomic(&run.config_path(), config.to_toml().as_bytes())?;
        tokenizer.save(&run.tokenizer_path())?;
        tokenizer
    };
    let tok = tokenizer.as_dyn();
    let data = load_dataset(&config.data, &files, tok, &tokenizer.to_json(), config.train.seed)?;
    eprintln!(
        "data: {} file(s){}{}, {} train + {} validation documents, {} + {} tokens, vocabulary {}",
        data.files_used,
        if data.skipped.is_empty() { String::new() } else { format!(" ({} skipped)", data.skipped.len()) },
        if data.from_cache { " from the cache" } else { "" },
        data.train.num_docs(),
        data.val.num_docs(),
        data.train.num_tokens(),
        data.val.num_tokens(),
        tok.vocab_size(),
    );
    let mut trainer = Trainer::new(run.clone(), &config.name, &config.model, &config.train, tok, data, resume)?;
    eprintln!(
        "model: {:.2}M parameters on {:?}; {} from step {} to {}",
        trainer.num_params() as f64 / 1e6,
        trainer.device(),
        if resume { "resuming" } else { "training" },
        trainer.step(),
        config.train.max_steps
    );
    let summary = trainer.run(interactive())?;
    println!(
        "{}: step {}, train loss {:.4}, val loss {:.4} (best {:.4}), {:.1} s",
        run.path().display(),
        summary.step,
        summary.train_loss,
        summary.val_loss,
        summary.best_val_loss,
        summary.elapsed_s
    );
    Ok(summary)
}

/// The config saved in a run directory, with overrides; the model and the tokenizer
/// cannot change.
fn resumed_config(run: &RunDir, overrides: &[String]) -> Result<Config> {
    let dir = run.path().display();
    let saved = Config::load(&run.config_path(), &[])
        .with_context(|| format!("{dir} is not a run directory that can be resumed"))?;
    let config = Config::load(&run.config_path(), overrides)?;
    if config.model != saved.model || config.tokenizer != saved.tokenizer {
        bail!("[model] and [tokenizer] cannot change when resuming {dir}");
    }
    run.checkpoint("last").with_context(|| format!("cannot resume {dir}"))?;
    Ok(config)
}
