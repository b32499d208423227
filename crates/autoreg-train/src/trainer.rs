//! The training loop: optimizer steps on random windows, evaluations, checkpoints, metrics.

use crate::batch::{Batcher, SplitSource};
use crate::checkpoint::{Checkpoint, RunDir, RunLock, TrainState};
use crate::config::{OptimizerKind, TrainConfig};
use crate::error::TrainError;
use crate::metrics::{EvalRecord, MetricsLog, plot_losses};
use crate::share::Share;
use crate::testhook::pause;
use autoreg_data::{Dataset, SourceSpan};
use autoreg_dist::ProcessGroup;
use autoreg_model::{
    DeviceChoice, Gpt, ModelConfig, MuonConfig, OptimConfig, Optimizer, available_memory, resolve_device,
};
use autoreg_tokens::Pipeline;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor, nn::VarStore};

/// How a training run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSummary {
    /// Steps done.
    pub step: i64,
    /// Last estimated training loss.
    pub train_loss: f64,
    /// Last estimated validation loss.
    pub val_loss: f64,
    /// Best validation loss seen.
    pub best_val_loss: f64,
    /// Training seconds, over all sessions of the run.
    pub elapsed_s: f64,
}

/// Builds the decoder for `train`'s threads, precision and seed on `device`: weights
/// freshly initialised, to be trained or overwritten by a checkpoint.
pub fn build_model(
    model: &ModelConfig,
    train: &TrainConfig,
    device: DeviceChoice,
    vocab_size: usize,
) -> Result<(VarStore, Gpt), TrainError> {
    if train.threads > 0 {
        tch::set_num_threads(train.threads as i32);
    }
    let device = resolve_device(device).map_err(TrainError::Config)?;
    tch::manual_seed(train.seed as i64);
    let vs = VarStore::new(device);
    let kind = train.precision.compute_kind(device);
    let gpt = Gpt::new(&vs.root(), model, vocab_size as i64, kind);
    Ok((vs, gpt))
}

/// How often a progress line is printed when there is no progress bar.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Checks that the model and its training on micro-batches of `train.batch_size`
/// windows can fit in the device's memory, before anything that large is allocated: on the CPU against the
/// memory available, on CUDA by allocating the estimate once.
fn check_memory(model: &ModelConfig, train: &TrainConfig, vocab: usize, device: Device) -> Result<(), TrainError> {
    let batch = train.batch_size as usize;
    let refuse = |why: String| {
        TrainError::Config(format!(
            "{why} (the batch size is train.batch_size; train.grad_accum adds batches per step)"
        ))
    };
    match (device, available_memory()) {
        (Device::Cpu, Some(available)) => model.check_fits(vocab, batch, available).map_err(refuse),
        _ => {
            let need = model.training_bytes(vocab, batch);
            let probe = if need < i64::MAX as f64 {
                Tensor::f_empty([need as i64], (Kind::Uint8, device)).map(drop).map_err(|e| e.to_string())
            } else {
                Err("more than can be addressed".to_owned())
            };
            probe.map_err(|e| {
                refuse(format!("the model and a batch need about {need:.3e} bytes, which {device:?} cannot give: {e}"))
            })
        }
    }
}

/// How a trainer holds its run directory.
#[derive(Debug)]
pub enum RunHandle {
    /// The one process that writes the run (a single process, or rank 0), holding its
    /// lock.
    Writer(RunLock),
    /// Another rank of a data-parallel run: it reads the run's checkpoints and writes
    /// nothing.
    Reader(RunDir),
}

impl RunHandle {
    /// The run directory.
    pub fn run(&self) -> &RunDir {
        match self {
            Self::Writer(lock) => lock.run(),
            Self::Reader(run) => run,
        }
    }

    /// Whether this process writes the run.
    pub fn writes(&self) -> bool {
        matches!(self, Self::Writer(_))
    }
}

/// Checks that `world_size` ranks can split the global batch of `config` (see
/// [`Trainer::join`]); the error names the keys.
pub fn check_world_size(config: &TrainConfig, world_size: usize) -> Result<(), TrainError> {
    Share::new(config.batch_size, config.grad_accum, 0, world_size).map(drop).map_err(TrainError::Config)
}

/// The seed of micro-batch `i`'s dropout in the step seeded by `seed`: the same on
/// whichever rank computes it.
fn micro_seed(seed: u64, i: i64) -> i64 {
    (seed ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)) as i64
}

/// A model, its optimizer and its data, ready to train into a run directory; with a
/// process group, one rank of a data-parallel run.
pub struct Trainer<'a> {
    config: &'a TrainConfig,
    tokenizer: Pipeline<'a>,
    run: RunHandle,
    group: Option<ProcessGroup>,
    share: Share,
    title: String,
    vs: VarStore,
    model: Gpt,
    opt: Optimizer,
    state: TrainState,
    train: Batcher,
    val: Batcher,
    metrics: MetricsLog,
    resumed: bool,
    /// The training seconds at which the decay ends, when it follows time.
    decay_time: Option<f64>,
}

impl<'a> Trainer<'a> {
    /// Starts from the weights of `checkpoint`, another run's (`model.init_from`), in
    /// place of the fresh ones; the optimizer and the schedule stay fresh.
    pub fn start_from(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        let model = self.model.config().clone();
        checkpoint.init_weights(&mut self.vs, &model)
    }

    /// Builds the model on the configured device; the batchers take over `data`'s
    /// splits. With `resume`, weights, optimizer moments and the step come from the
    /// run's `last` checkpoint (which must have been trained with `model_config`), and
    /// the writer drops metrics past that step; without it, all metrics.
    pub fn new(
        run: RunHandle,
        title: &str,
        model_config: &ModelConfig,
        config: &'a TrainConfig,
        tokenizer: Pipeline<'a>,
        data: Dataset,
        resume: bool,
    ) -> Result<Self, TrainError> {
        config.validate().map_err(TrainError::Config)?;
        model_config.validate().map_err(TrainError::Config)?;
        // Checked before the model is built: its weights alone may not fit.
        let device = resolve_device(config.device).map_err(TrainError::Config)?;
        check_memory(model_config, config, tokenizer.vocab_size(), device)?;
        let (mut vs, model) = build_model(model_config, config, config.device, tokenizer.vocab_size())?;
        let muon = (config.optimizer == OptimizerKind::Muon)
            .then(|| MuonConfig { lr_scale: config.muon_lr / config.lr, momentum: config.muon_momentum });
        let mut opt = Optimizer::new(
            &vs,
            OptimConfig {
                beta1: config.beta1,
                beta2: config.beta2,
                eps: config.eps,
                weight_decay: config.weight_decay,
                muon,
            },
        );
        let metrics = MetricsLog::new(run.run().metrics_path());
        let mut state = TrainState { best_val_loss: f64::INFINITY, ..Default::default() };
        if resume {
            let dir = run.run();
            let ckpt = dir.checkpoint("last")?;
            if std::fs::symlink_metadata(dir.path().join("best")).is_ok() {
                dir.checkpoint("best")?;
            }
            ckpt.load_weights(&mut vs, model_config)?;
            ckpt.load_optimizer(&mut opt)?;
            if let Some(d) = ckpt.state.decay_time_s.filter(|d| !(d.is_finite() && *d > 0.0)) {
                let why = format!("`decay_time_s` must be a finite number > 0, got {d}");
                return Err(TrainError::checkpoint(ckpt.dir.join("state.json"), why));
            }
            state = ckpt.state;
        }
        state.device = Some(format!("{:?}", vs.device()));
        // A decay in time keeps ending where the run's did, as one in steps does when
        // `max_steps` changes: following a new `max_time` would lift the rate back up.
        let decay_time = config.decay_time.or(state.decay_time_s).or(config.max_time);
        if let Some(end) = state.decay_time_s.filter(|&d| config.decay_time.is_none() && config.max_time != Some(d))
            && run.writes()
        {
            let end = crate::config::format_seconds(end).unwrap_or_else(|| format!("{end} s"));
            eprintln!(
                "the learning rate keeps this run's schedule: its decay ends at {end} of training \
                 (train.decay_time); --set train.decay_time=DURATION moves it"
            );
        }
        state.decay_time_s = decay_time;
        let block = model_config.block_size;
        let spans = |val: bool| -> Vec<SplitSource> {
            let docs = |s: &SourceSpan| if val { s.val.clone() } else { s.train.clone() };
            let source = |s: &SourceSpan| SplitSource {
                name: s.name.clone(),
                docs: docs(s),
                weight: s.weight,
                windows: s.windows,
            };
            data.sources.iter().map(source).collect()
        };
        let (train_sources, val_sources) = (spans(false), spans(true));
        let train = Batcher::new(data.train, &train_sources, block, data.windows, tokenizer, device, "training")?
            .with_fim(data.fim);
        let val = Batcher::new(data.val, &val_sources, block, data.windows, tokenizer, device, "validation")?;
        // Only once everything is checked: metrics are never dropped by a failed start.
        if run.writes() {
            metrics.truncate_after(if resume { state.step } else { -1 })?;
        }
        Ok(Self {
            config,
            tokenizer,
            run,
            group: None,
            share: Share::WHOLE,
            title: title.to_owned(),
            vs,
            model,
            opt,
            state,
            train,
            val,
            metrics,
            resumed: resume,
            decay_time,
        })
    }

    /// Makes this trainer one rank of `group`'s data-parallel run: each rank computes
    /// its part of every global batch (whole micro-batches when the ranks divide
    /// `grad_accum`, else rows of each when they divide `batch_size`), gradients are
    /// summed over the ranks before the optimizer step, and rank 0's weights are
    /// copied to every rank now.
    pub fn join(mut self, mut group: ProcessGroup) -> Result<Self, TrainError> {
        let (rank, world) = (group.rank(), group.world_size());
        self.share =
            Share::new(self.config.batch_size, self.config.grad_accum, rank, world).map_err(TrainError::Config)?;
        let mut named: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut weights: Vec<Tensor> = named.into_iter().map(|(_, t)| t).collect();
        group.broadcast_all(&mut weights, 0)?;
        self.group = Some(group);
        Ok(self)
    }

    /// `values` summed over the ranks (themselves without a process group).
    fn sum_over_ranks(&mut self, values: &[f64]) -> Result<Vec<f64>, TrainError> {
        let Some(group) = &mut self.group else { return Ok(values.to_vec()) };
        let mut t = Tensor::from_slice(values);
        group.all_reduce_sum(&mut t)?;
        Vec::<f64>::try_from(&t).map_err(|e| TrainError::Torch { context: "reading a sum".to_owned(), source: e })
    }

    /// The device the model lives on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> i64 {
        self.vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }

    /// The step training stands at.
    pub fn step(&self) -> i64 {
        self.state.step
    }

    /// Trains up to `max_steps`, or until the run has trained for `max_time` seconds
    /// (over all its sessions) when that is set, whichever comes first, evaluating and
    /// checkpointing every `eval_interval` steps and at the end. `progress` shows a
    /// progress bar on a terminal; without it a progress line is printed every 10 s.
    /// When `stop` is set (Ctrl-C, SIGTERM), the current step is finished and saved,
    /// then evaluated (so that its losses and `best` are its own), and
    /// [`TrainError::Interrupted`] returned.
    pub fn run(&mut self, progress: bool, stop: &AtomicBool) -> Result<TrainSummary, TrainError> {
        let cfg = self.config;
        let start = self.state.step;
        let tokens_per_step = (cfg.batch_size as u64)
            .saturating_mul(cfg.grad_accum as u64)
            .saturating_mul(self.model.config().block_size as u64);
        // Rank 0 speaks for all ranks.
        let speaks = self.run.writes();
        let elapsed_before = self.state.elapsed_s;
        // With a time budget the bar counts seconds, the steps being open-ended.
        let budget = cfg.max_time;
        let (len, position, template, prefix) = match budget {
            Some(t) => {
                (t.ceil() as u64, elapsed_before as u64, "{prefix} {bar:30} {pos}/{len} s {msg} ETA {eta}", "time")
            }
            None => (cfg.max_steps as u64, start as u64, "{prefix} {bar:30} {pos}/{len} {msg} ETA {eta}", "step"),
        };
        let bar = if progress && speaks { ProgressBar::new(len) } else { ProgressBar::hidden() };
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar.set_prefix(prefix);
        bar.set_position(position);
        if speaks && start >= cfg.max_steps {
            log::warn!(
                "{} is at step {start}, train.max_steps = {}: nothing to train; raise it (--set train.max_steps=N) to go on",
                self.run.run().path().display(),
                cfg.max_steps
            );
        }
        if let Some(t) = budget.filter(|&t| speaks && elapsed_before >= t) {
            log::warn!(
                "{} has trained for {elapsed_before:.1} s, train.max_time = {t} s: nothing to train; raise it \
                 (--set train.max_time=DURATION) to go on",
                self.run.run().path().display()
            );
        }
        // What is being done between steps: on the bar, or a line without one.
        let say = |line: bool, what: String| {
            if !speaks {
                return;
            }
            if line || !progress {
                bar.suspend(|| eprintln!("{what}"));
            } else {
                bar.set_message(what);
                bar.force_draw();
            }
        };
        let session = Instant::now();
        // Whether the schedule or the end follows time: the ranks then share rank 0's clock.
        let (decay_time, timed) = (self.decay_time, self.decay_time.is_some() || budget.is_some());
        let rate_at = |step: i64, elapsed: f64| match decay_time {
            Some(end) => cfg.learning_rate_in_time(step, elapsed, end),
            None => cfg.learning_rate(step),
        };
        let (mut since_eval, mut tokens_since_eval) = (Instant::now(), 0u64);
        let mut last_line = Instant::now();
        let mut lr = rate_at(start, elapsed_before);
        let mut step = start;
        // A resumed run starts on its saved `last` checkpoint, evaluated unless the
        // process ended during the evaluation that follows a save on a stop.
        let mut saved = if self.resumed { Some(start) } else { None };
        let mut evaluated = if self.state.evaluated() == Some(false) { None } else { saved };
        loop {
            let mut elapsed = if timed { self.training_seconds(elapsed_before, session)? } else { 0.0 };
            let out_of_time = budget.is_some_and(|t| elapsed >= t);
            let due = step % cfg.eval_interval == 0 || step == cfg.max_steps || out_of_time;
            let evaluating = (due && saved != Some(step)) || (saved == Some(step) && evaluated != Some(step));
            if evaluating {
                self.state.elapsed_s = elapsed_before + session.elapsed().as_secs_f64();
                let tokens_per_s = tokens_since_eval as f64 / since_eval.elapsed().as_secs_f64().max(1e-9);
                // Only the evaluations of the schedule are logged: the metrics of a resumed
                // run are those of an uninterrupted one.
                let log = due.then_some((lr, tokens_per_s));
                let doing = if saved == Some(step) { "evaluating" } else { "evaluating and saving" };
                say(false, format!("step {step}: {doing} ..."));
                self.evaluate_and_save(saved == Some(step), log)?;
                (saved, evaluated) = (Some(step), Some(step));
                let rate = log.map(|_| format!(", {tokens_per_s:.0} tokens/s")).unwrap_or_default();
                let (train, val) = (self.state.train_loss, self.state.val_loss);
                say(true, format!("step {step}: train loss {train:.4}, val loss {val:.4}{rate}"));
                (since_eval, tokens_since_eval, last_line) = (Instant::now(), 0, Instant::now());
            }
            if step >= cfg.max_steps || out_of_time {
                break;
            }
            // All ranks stop at the same step when any was asked to.
            let stopping = self.sum_over_ranks(&[f64::from(u8::from(stop.load(Ordering::SeqCst)))])?[0] > 0.0;
            if stopping {
                bar.finish_and_clear();
                if saved != Some(step) {
                    // Saved first, so that a kill during the evaluation (a deadline after
                    // SIGTERM, a second Ctrl-C) loses no step; evaluated next, so that its
                    // losses and `best` are its own.
                    if self.run.writes() {
                        say(true, format!("step {step}: saving ..."));
                        self.state.elapsed_s = elapsed_before + session.elapsed().as_secs_f64();
                        self.run.run().save(&self.vs, Some(&self.opt), &self.state, self.model.config(), false)?;
                    }
                }
                if evaluated != Some(step) {
                    say(true, format!("step {step}: evaluating ..."));
                    self.evaluate_and_save(true, None)?;
                    let (train, val) = (self.state.train_loss, self.state.val_loss);
                    say(true, format!("step {step}: train loss {train:.4}, val loss {val:.4}"));
                }
                return Err(TrainError::Interrupted { step, run: self.run.run().path().to_path_buf() });
            }
            if timed && evaluating {
                // The evaluation took time too.
                elapsed = self.training_seconds(elapsed_before, session)?;
            }
            lr = rate_at(step, elapsed);
            let loss = self.train_step(step, lr)?;
            step += 1;
            self.state.step = step;
            self.state.tokens_seen = self.state.tokens_seen.saturating_add(tokens_per_step);
            tokens_since_eval = tokens_since_eval.saturating_add(tokens_per_step);
            let rate = tokens_since_eval as f64 / since_eval.elapsed().as_secs_f64().max(1e-9);
            let message = format!("loss {loss:.4} lr {lr:.2e} {:.1}k tok/s", rate / 1e3);
            match budget {
                Some(_) => {
                    bar.set_position((elapsed_before + session.elapsed().as_secs_f64()) as u64);
                    bar.set_message(format!("step {step} {message}"));
                }
                None => {
                    bar.set_position(step as u64);
                    bar.set_message(message);
                }
            }
            if !progress && speaks && last_line.elapsed() >= PROGRESS_EVERY {
                match budget {
                    Some(t) => {
                        let now = elapsed_before + session.elapsed().as_secs_f64();
                        eprintln!("step {step}: loss {loss:.4}, lr {lr:.2e}, {rate:.0} tokens/s, {now:.0}/{t} s");
                    }
                    None => eprintln!("step {step}/{}: loss {loss:.4}, lr {lr:.2e}, {rate:.0} tokens/s", cfg.max_steps),
                }
                last_line = Instant::now();
            }
            pause("step", step, || stop.load(Ordering::SeqCst));
        }
        bar.finish_and_clear();
        Ok(TrainSummary {
            step: self.state.step,
            train_loss: self.state.train_loss,
            val_loss: self.state.val_loss,
            best_val_loss: self.state.best_val_loss,
            elapsed_s: self.state.elapsed_s,
        })
    }

    /// The run's training seconds so far, `before` this session and since `session`
    /// began, as rank 0 counts them: every rank then takes the same learning rate and
    /// stops at the same step.
    fn training_seconds(&mut self, before: f64, session: Instant) -> Result<f64, TrainError> {
        let mine = if self.run.writes() { before + session.elapsed().as_secs_f64() } else { 0.0 };
        Ok(self.sum_over_ranks(&[mine])?[0])
    }

    /// One optimizer step over `grad_accum` micro-batches (this rank's part of them,
    /// with gradients summed over the ranks); returns the mean loss, or
    /// [`TrainError::Diverged`] when it is not finite. Data and dropout are seeded by
    /// the step and the micro-batch, so a resumed run draws what an uninterrupted one
    /// would, on any number of ranks.
    fn train_step(&mut self, step: i64, lr: f64) -> Result<f64, TrainError> {
        let cfg = self.config;
        let seed = cfg.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut total = 0.0;
        let mut grads: Vec<Tensor> = Vec::new();
        for i in 0..cfg.grad_accum {
            let (x, y) = self.train.random(cfg.batch_size, &mut rng, Some(self.tokenizer)); // (B, T) each
            let Some((x, y)) = self.share.take(i, x, y) else { continue };
            tch::manual_seed(micro_seed(seed, i));
            let loss = self.model.loss(&x, &y, true) / self.share.loss_divisor(cfg.grad_accum);
            let micro = self.opt.gradients(&loss);
            total += loss.double_value(&[]);
            if grads.is_empty() {
                grads = micro;
            } else {
                tch::no_grad(|| grads.iter_mut().zip(&micro).for_each(|(g, m)| drop(g.g_add_(m))));
            }
        }
        if let Some(group) = &mut self.group {
            group.all_reduce_sum_all(&mut grads)?;
        }
        let total = self.sum_over_ranks(&[total])?[0];
        if !total.is_finite() {
            return Err(TrainError::Diverged { step: step + 1, loss: total });
        }
        if cfg.grad_clip > 0.0 {
            Optimizer::clip_grad_norm(&mut grads, cfg.grad_clip);
        }
        self.opt
            .step(&grads, lr)
            .map_err(|e| TrainError::Torch { context: format!("step {step}"), source: tch::TchError::Torch(e) })?;
        Ok(total)
    }
    /// Mean loss over `eval_batches` batches of the training (`val` false) or
    /// validation split; the same batches every time, dealt out to the ranks.
    fn estimate(&mut self, val: bool) -> Result<f64, TrainError> {
        let (split, salt) = if val { (&self.val, 0x7A2) } else { (&self.train, 0x7A1) };
        let mut rng = StdRng::seed_from_u64(self.config.seed ^ salt);
        let sum = tch::no_grad(|| {
            let mut losses = Vec::new();
            for i in 0..self.config.eval_batches {
                let (x, y) = split.random(self.config.batch_size, &mut rng, None);
                if self.share.owns_batch(i) {
                    losses.push(self.model.loss(&x, &y, false));
                }
            }
            // One read of the device for all of this rank's batches.
            if losses.is_empty() { 0.0 } else { Tensor::stack(&losses, 0).sum(Kind::Double).double_value(&[]) }
        });
        Ok(self.sum_over_ranks(&[sum])?[0] / self.config.eval_batches as f64)
    }

    /// Estimates the losses of the current step's weights; then the writer saves them
    /// as a checkpoint, or, when this step is `saved` already (on a stop), records the
    /// losses in its `state.json`; either way `best` moves to it when its validation loss
    /// is the lowest yet. With `log` (the learning rate and the tokens per second), the
    /// losses are appended to the metrics and the loss plot redrawn.
    fn evaluate_and_save(&mut self, saved: bool, log: Option<(f64, f64)>) -> Result<(), TrainError> {
        self.state.train_loss = self.estimate(false)?;
        self.state.val_loss = self.estimate(true)?;
        self.state.eval_step = Some(self.state.step);
        let best = self.state.val_loss < self.state.best_val_loss;
        if best {
            self.state.best_val_loss = self.state.val_loss;
        }
        if let Some(loss) = [self.state.train_loss, self.state.val_loss].into_iter().find(|l| !l.is_finite()) {
            return Err(TrainError::Diverged { step: self.state.step, loss });
        }
        if !self.run.writes() {
            return Ok(());
        }
        if saved {
            self.run.run().update_state(&self.state, best)?;
        } else {
            self.run.run().save(&self.vs, Some(&self.opt), &self.state, self.model.config(), best)?;
        }
        let Some((lr, tokens_per_s)) = log else { return Ok(()) };
        self.metrics.append(&EvalRecord {
            step: self.state.step,
            train_loss: self.state.train_loss,
            val_loss: self.state.val_loss,
            lr,
            tokens_per_s,
            elapsed_s: self.state.elapsed_s,
        })?;
        plot_losses(&self.metrics.read()?, &self.title, &self.run.run().plot_path())
    }
}
