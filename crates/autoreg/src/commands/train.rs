//! `autoreg train`.

use super::interactive;
use crate::cli::TrainArgs;
use crate::config::Config;
use crate::page::write_report;
use crate::registry::SavedTokenizer;
use crate::report::error_line;
use crate::tokenized;
use anyhow::{Context, Result, bail};
use autoreg_bpe::Bpe;
use autoreg_tokens::write_atomic;
use autoreg_train::{RunDir, TrainSummary, Trainer, list_files, resolve_data_path};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

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
    // Data paths are found from the config's folder (a resumed run's own folder); the
    // run's history records the command.
    let (base, command) = match &args.config {
        Some(path) if !resume => {
            (path.parent().unwrap_or(Path::new(".")).to_path_buf(), format!("train {}", path.display()))
        }
        _ => (run.path().to_path_buf(), "train --resume".to_owned()),
    };
    let data_path = resolve_data_path(&config.data, &base)?;
    let files = list_files(&data_path, &config.tokenizer.extensions())?;

    // One process writes a run: the lock is taken before anything in it is written.
    let lock = run.lock()?;
    let (tokenizer, data) = if resume {
        let tokenizer = SavedTokenizer::load(&run.tokenizer_path())?;
        let data = tokenized::load(&config, &files, &tokenizer)?;
        (tokenizer, data)
    } else {
        if std::fs::symlink_metadata(run.path().join("last")).is_ok() {
            bail!(
                "{} already holds a trained run: continue it with --resume, or train under another name (--set name=...)",
                run.path().display()
            );
        }
        // The modality, then its data in base ids, then merges learned on the training split.
        let base = SavedTokenizer::new(config.tokenizer.modality.build(&files)?, None).map_err(anyhow::Error::msg)?;
        if let Some(bpe) = &config.tokenizer.bpe {
            bpe.check(base.base.as_dyn())?;
        }
        let data = tokenized::load_base(&config, &files, &base)?;
        let bpe = match &config.tokenizer.bpe {
            Some(bpe) => Some(Bpe::learn(bpe, base.base.as_dyn(), data.train.docs())?),
            None => None,
        };
        let tokenizer = SavedTokenizer::new(base.base, bpe).map_err(anyhow::Error::msg)?;
        write_atomic(&run.config_path(), config.to_toml().as_bytes())?;
        tokenizer.save(&run.tokenizer_path())?;
        let data = tokenized::merged(data, &tokenizer);
        (tokenizer, data)
    };
    let tok = tokenizer.pipeline();
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
    let mut trainer = Trainer::new(lock, &config.name, &config.model, &config.train, tok, data, resume)?;
    if resume {
        // The overrides hold from now on: the run's config keeps them, its history says when.
        write_atomic(&run.config_path(), config.to_toml().as_bytes())?;
    }
    record_history(&run, &command, &args.set)?;
    eprintln!(
        "model: {:.2}M parameters on {:?}; {} from step {} to {}",
        trainer.num_params() as f64 / 1e6,
        trainer.device(),
        if resume { "resuming" } else { "training" },
        trainer.step(),
        config.train.max_steps
    );
    let summary = trainer.run(interactive(), stop_on_ctrl_c()?)?;
    println!(
        "{}: step {}, train loss {:.4}, val loss {:.4} (best {:.4}), {:.1} s",
        run.path().display(),
        summary.step,
        summary.train_loss,
        summary.val_loss,
        summary.best_val_loss,
        summary.elapsed_s
    );
    // The page is a view of the run: failing to write it leaves the run as good.
    match write_report(run.path(), &[], None) {
        Ok(page) => eprintln!("wrote {}", page.display()),
        Err(e) => log::warn!("cannot write the report of {}: {}", run.path().display(), error_line(&e)),
    }
    Ok(summary)
}

/// The config saved in a run directory, with overrides; the model and the tokenizer
/// cannot change.
fn resumed_config(run: &RunDir, overrides: &[String]) -> Result<Config> {
    let dir = run.path().display();
    let saved = Config::load(&run.config_path(), &[])
        .with_context(|| format!("{dir} is not a run directory that can be resumed"))?;
    let mut config = Config::load(&run.config_path(), overrides)?;
    if config.model != saved.model || config.tokenizer != saved.tokenizer {
        bail!("[model] and [tokenizer] cannot change when resuming {dir}");
    }
    if config.train.optimizer != saved.train.optimizer {
        bail!(
            "train.optimizer cannot change when resuming {dir}: its state belongs to the optimizer it was trained with"
        );
    }
    // A decay that ends at `max_steps` keeps ending where this run's did: following a new
    // `max_steps` would lift the learning rate back up in the middle of the run.
    if config.train.decay_steps.is_none() && config.train.max_steps != saved.train.max_steps {
        let end = saved.train.decay_end();
        config.train.decay_steps = Some(end);
        eprintln!(
            "the learning rate keeps this run's schedule: its decay ended at step {end} (train.decay_steps); \
             --set train.decay_steps=N moves it"
        );
    }
    run.checkpoint("last").with_context(|| format!("cannot resume {dir}"))?;
    Ok(config)
}

/// Set by the first Ctrl-C: training stops after the current step, saved.
static STOP: AtomicBool = AtomicBool::new(false);

/// Installs (once) the Ctrl-C handler and returns the flag it sets. A second Ctrl-C
/// exits at once, with the status of a process ended by SIGINT.
fn stop_on_ctrl_c() -> Result<&'static AtomicBool> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("stopping after this step, which is saved (Ctrl-C again to quit at once)");
        })
        .map_err(|e| e.to_string())
    });
    installed.clone().map_err(anyhow::Error::msg).context("cannot install the Ctrl-C handler")?;
    Ok(&STOP)
}

/// Appends to the run's `config.history` a line of when `command` ran with `overrides`.
fn record_history(run: &RunDir, command: &str, overrides: &[String]) -> Result<()> {
    let sets: String = overrides.iter().map(|o| format!(" --set {o}")).collect();
    let line = format!("{} {command}{sets}\n", humantime::format_rfc3339_seconds(SystemTime::now()));
    crate::run::append_line(&run.history_path(), &line)
}
