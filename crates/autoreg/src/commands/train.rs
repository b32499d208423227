//! `autoreg train`.

use super::interactive;
use crate::cli::TrainArgs;
use crate::config::Config;
use crate::errors::error_line;
use crate::page::write_report;
use crate::prepare::{self, Prepared};
use crate::progress::Bar;
use crate::run;
use anyhow::{Context, Result, bail};
use autoreg_dist::{Backend, ProcessGroup, RankEnv, launch_local};
use autoreg_model::{DeviceChoice, resolve_device};
use autoreg_train::{RunDir, RunHandle, TrainConfig, TrainSummary, Trainer, check_world_size};
use std::ffi::OsString;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tch::Device;

/// How long the other ranks wait for rank 0 to prepare a run (learn its tokenizer,
/// tokenize its data): only a hang can last this long, since a rank 0 that fails
/// closes its connections and ends the wait at once.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// `autoreg train --nproc N`: checks the config, then runs this command as N ranks on
/// this machine (each one [`train`]) and waits for them.
pub fn launch(args: &TrainArgs) -> Result<()> {
    if RankEnv::from_env()?.is_some() {
        bail!("--nproc starts its own ranks: under torchrun or another launcher (WORLD_SIZE is set), leave it out");
    }
    let nproc = usize::from(args.nproc);
    // Refused here once, not by every rank.
    let (config, ..) = run_config(args)?;
    check_world_size(&config.train, nproc)?;
    let mut child: Vec<OsString> = vec!["train".into()];
    child.extend(args.config.iter().map(OsString::from));
    for set in args.overrides() {
        child.extend(["--set".into(), set.into()]);
    }
    if let Some(resume) = &args.resume {
        child.push("--resume".into());
        child.extend(resume.iter().map(OsString::from));
    }
    // Each Ctrl-C (or SIGTERM) is handed to every rank: the first stops them together
    // after a step, saved; a second ends them at once.
    static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
    on_interrupt(|| {
        INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    })
    .map_err(anyhow::Error::msg)
    .context("cannot install the Ctrl-C handler")?;
    let program = std::env::current_exe().context("cannot find the autoreg program to start its ranks")?;
    launch_local(nproc, &program, &child, &INTERRUPTS)?;
    Ok(())
}

/// This process's rank of a data-parallel job, when the environment names one of more
/// than one rank: the process group joined (Gloo on the CPU; NCCL on CUDA, where each
/// rank takes the GPU of its local rank), the device this rank trains on, and
/// libtorch's threads shared out among the ranks of this machine.
fn join_job(config: &TrainConfig) -> Result<Option<(ProcessGroup, DeviceChoice)>> {
    let Some(env) = RankEnv::from_env()? else { return Ok(None) };
    if env.world_size == 1 {
        return Ok(None);
    }
    check_world_size(config, env.world_size)?;
    let choice = match resolve_device(config.device).map_err(anyhow::Error::msg)? {
        Device::Cuda(_) => DeviceChoice::Cuda(env.local_rank),
        _ => config.device,
    };
    let device =
        resolve_device(choice).map_err(anyhow::Error::msg).context("each rank takes the GPU of its LOCAL_RANK")?;
    let backend = Backend::for_device(device)?;
    // As torchrun's OMP_NUM_THREADS would: the machine's cores shared out, unless set.
    if config.threads == 0 && env.local_world_size > 1 && std::env::var_os("OMP_NUM_THREADS").is_none() {
        tch::set_num_threads(env.threads_per_rank() as i32);
    }
    let timeout = Duration::try_from_secs_f64(config.dist_timeout_s).unwrap_or(Duration::MAX);
    Ok(Some((ProcessGroup::new(&env, backend, timeout)?, choice)))
}

/// Trains a new run from a config, or resumes one, in this process: the whole run, or
/// this rank's part of it when the environment names a data-parallel job (rank 0
/// writes the run; every error names the rank). Returns how it ended.
pub fn train(args: &TrainArgs) -> Result<TrainSummary> {
    match RankEnv::from_env()? {
        Some(env) if env.world_size > 1 => {
            train_here(args).with_context(|| format!("rank {} of {}", env.rank, env.world_size))
        }
        _ => train_here(args),
    }
}

/// The config of the run that `args` names, the run directory, and whether it resumes.
fn run_config(args: &TrainArgs) -> Result<(Config, RunDir, bool)> {
    Ok(match (&args.config, &args.resume) {
        (Some(path), None) => {
            let config = Config::load(path, &args.overrides())?;
            let run = RunDir::new(config.run_dir());
            (config, run, false)
        }
        (Some(path), Some(None)) => {
            let run = RunDir::new(Config::load(path, &[])?.run_dir());
            (resumed_config(&run, Some(path), &args.set)?, run, true)
        }
        (None, Some(Some(dir))) => {
            let run = RunDir::new(dir);
            (resumed_config(&run, None, &args.set)?, run, true)
        }
        (Some(_), Some(Some(_))) => bail!("give either a config file or --resume RUN_DIR, not both"),
        (None, _) => bail!("give a config file (autoreg train configs/NAME.toml) or --resume RUN_DIR"),
    })
}

fn train_here(args: &TrainArgs) -> Result<TrainSummary> {
    let (config, run, resume) = run_config(args)?;
    // Data paths are found from the config's folder (a resumed run's own folder); the
    // run's history records the command.
    let (base, command) = match &args.config {
        Some(path) if !resume => {
            (path.parent().unwrap_or(Path::new(".")).to_path_buf(), format!("train {}", path.display()))
        }
        _ => (run.path().to_path_buf(), "train --resume".to_owned()),
    };
    let (mut group, device) = match join_job(&config.train)? {
        Some((group, device)) => (Some(group), device),
        None => (None, config.train.device),
    };
    // This rank's device; the run's config keeps the one it was given.
    let train_config = TrainConfig { device, ..config.train.clone() };
    let writes = group.as_ref().is_none_or(|g| g.rank() == 0);

    // One process writes a run: the lock is taken before anything in it is written.
    // The other ranks wait until rank 0 has written the tokenizer and cached the data.
    let handle = if writes { RunHandle::Writer(run.lock()?) } else { RunHandle::Reader(run.clone()) };
    if let (Some(g), false) = (&mut group, writes) {
        g.barrier(PREPARE_TIMEOUT).context("waiting for rank 0 to prepare the run")?;
    }
    let Prepared { tokenizer, data } = if resume || !writes {
        // Checked against the last checkpoint: the weights were trained on its ids, and
        // an edited tokenizer would tokenize the data anew, differently.
        let tokenizer = run::read_tokenizer(&run).with_context(|| match resume {
            true => format!("cannot resume {}", run.path().display()),
            false => format!("reading {} as rank 0 prepared it", run.path().display()),
        })?;
        let data = prepare::reload(&config, &base, &tokenizer, &Bar::new())?;
        Prepared { tokenizer, data }
    } else {
        if std::fs::symlink_metadata(run.path().join("last")).is_ok() {
            bail!(
                "{} already holds a trained run: continue it with --resume, or train under another name (--set name=...)",
                run.path().display()
            );
        }
        let prepared = match &config.model.init_from {
            // The source's tokenizer, as its weights were trained on its ids.
            Some(source) => {
                let tokenizer = run::read_tokenizer(&RunDir::new(source))
                    .with_context(|| format!("model.init_from = {:?}", source.display().to_string()))?;
                let data = prepare::reload(&config, &base, &tokenizer, &Bar::new())?;
                Prepared { tokenizer, data }
            }
            None => prepare::prepare(&config, &base, &Bar::new())?,
        };
        run::write_new(&run, &config, &prepared.tokenizer)?;
        prepared
    };
    if let (Some(g), true) = (&mut group, writes) {
        g.barrier(PREPARE_TIMEOUT).context("waiting for the other ranks")?;
    }
    let tok = tokenizer.pipeline();
    if config.data.fim_rate > 0.0 && tok.fim.is_none() {
        bail!(
            "data.fim_rate: the tokenizer this run trains with (a resumed run's, or model.init_from's) has no \
             sentinels of fill in the middle, which only a new run adds: start one with data.fim_rate set"
        );
    }
    if writes {
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
    }
    let mut trainer = Trainer::new(handle, &config.name, &config.model, &train_config, tok, data, resume)?;
    if let (Some(source), false) = (&config.model.init_from, resume) {
        let start = RunDir::new(source).checkpoint("best")?;
        trainer.start_from(&start).with_context(|| format!("starting from {}", start.dir.display()))?;
        if writes {
            eprintln!("starting from the weights of {} (step {})", start.dir.display(), start.state.step);
        }
    }
    let ranks = group.as_ref().map_or(1, |g| g.world_size());
    if let Some(group) = group {
        trainer = trainer.join(group)?;
    }
    let summary = if writes {
        if resume {
            // The overrides hold from now on: the run's config keeps them, its history says when.
            run::write_config(&run, &config)?;
        }
        run::record_history(&run, &command, &args.overrides())?;
        eprintln!(
            "model: {:.2}M parameters on {:?}{}; {} from step {} to {}",
            trainer.num_params() as f64 / 1e6,
            trainer.device(),
            if ranks > 1 { format!(", {ranks} ranks") } else { String::new() },
            if resume { "resuming" } else { "training" },
            trainer.step(),
            config.train.max_steps
        );
        trainer.run(interactive(), stop_on_ctrl_c()?)?
    } else {
        return Ok(trainer.run(false, stop_on_ctrl_c()?)?);
    };
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
    match write_report(run.path(), &[], &[], None) {
        Ok(page) => eprintln!("wrote {}", page.display()),
        Err(e) => log::warn!("cannot write the report of {}: {}", run.path().display(), error_line(&e)),
    }
    Ok(summary)
}

/// The config of a resumed run: the one saved in its directory, or `file` (`train
/// CONFIG --resume`, whose edits apply as `--set` would), with overrides. The model, the
/// tokenizer, the sources and the optimizer cannot change.
fn resumed_config(run: &RunDir, file: Option<&Path>, overrides: &[String]) -> Result<Config> {
    let dir = run.path().display();
    let saved = Config::load(&run.config_path(), &[])
        .with_context(|| format!("{dir} is not a run directory that can be resumed"))?;
    let mut config = Config::load(file.unwrap_or(&run.config_path()), overrides)?;
    let changed_by = match file {
        Some(file) => format!("{} and --set", file.display()),
        None => "--set".to_owned(),
    };
    if config.model != saved.model || config.tokenizer != saved.tokenizer || config.sources != saved.sources {
        bail!("[model], [tokenizer] and [[sources]] cannot change when resuming {dir} ({changed_by} change them)");
    }
    if config.train.optimizer != saved.train.optimizer {
        bail!(
            "train.optimizer cannot change when resuming {dir} ({changed_by} change it): its state belongs to the \
             optimizer it was trained with"
        );
    }
    if config.data != saved.data {
        bail!("[data] cannot change when resuming {dir} ({changed_by} change it): the run's split would change");
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

/// Set by the first Ctrl-C or SIGTERM: training stops after the current step, saved.
static STOP: AtomicBool = AtomicBool::new(false);

/// Runs `handler` on its own thread at each SIGINT (Ctrl-C) and SIGTERM (`kill`, Docker,
/// Kubernetes, SLURM), through `ctrlc` and its `termination` feature. That feature
/// catches SIGHUP too, which is put back as it was: a run under `nohup` keeps ignoring
/// the hang-up, and a run on a terminal that closes ends as before.
fn on_interrupt(handler: impl FnMut() + Send + 'static) -> Result<(), String> {
    // SAFETY: sigaction with a null new action only reads SIGHUP's disposition into
    // `old`, a plain C struct that zeroes initialise; setting it back later gives the
    // signal exactly the disposition it had.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let read = unsafe { libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) } == 0;
    let installed = ctrlc::set_handler(handler).map_err(|e| e.to_string());
    if read {
        // SAFETY: as above; `old` is what the kernel gave.
        unsafe { libc::sigaction(libc::SIGHUP, &old, std::ptr::null_mut()) };
    }
    installed
}

/// Installs (once) the handler of Ctrl-C and SIGTERM and returns the flag it sets. A
/// second one exits at once, with the status of a process ended by SIGINT.
fn stop_on_ctrl_c() -> Result<&'static AtomicBool> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        on_interrupt(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("stopping after this step, which is saved, then evaluated (Ctrl-C again to quit at once)");
        })
    });
    installed.clone().map_err(anyhow::Error::msg).context("cannot install the Ctrl-C handler")?;
    Ok(&STOP)
}
