//! The training loop: AdamW steps on random windows, evaluations, checkpoints, metrics.

use crate::batch::Batcher;
use crate::checkpoint::{RunDir, TrainState};
use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::error::TrainError;
use crate::metrics::{EvalRecord, MetricsLog, plot_losses};
use crate::schedule::learning_rate;
use autoreg_model::{AdamW, AdamWConfig, DeviceChoice, Gpt, ModelConfig, resolve_device};
use autoreg_tokens::Tokenizer;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;
use tch::{Device, Tensor, nn::VarStore};

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

/// A model, its optimizer and its data, ready to train into a run directory.
pub struct Trainer<'a> {
    config: &'a TrainConfig,
    tokenizer: &'a dyn Tokenizer,
    run: RunDir,
    title: String,
    vs: VarStore,
    model: Gpt,
    opt: AdamW,
    state: TrainState,
    train: Batcher,
    val: Batcher,
    metrics: MetricsLog,
    resumed: bool,
}

impl<'a> Trainer<'a> {
    /// Builds the model on the configured device; the batchers take over `data`'s
    /// splits. With `resume`, weights, optimizer moments and the step come from the
    /// run's `last` checkpoint, and metrics past that step are dropped.
    pub fn new(
        run: RunDir,
        title: &str,
        model_config: &ModelConfig,
        config: &'a TrainConfig,
        tokenizer: &'a dyn Tokenizer,
        data: Dataset,
        resume: bool,
    ) -> Result<Self, TrainError> {
        config.validate().map_err(TrainError::Config)?;
        model_config.validate().map_err(TrainError::Config)?;
        let (mut vs, model) = build_model(model_config, config, config.device, tokenizer.vocab_size())?;
        let device = vs.device();
        let mut opt = AdamW::new(
            &vs,
            AdamWConfig {
                beta1: config.beta1,
                beta2: config.beta2,
                eps: config.eps,
                weight_decay: config.weight_decay,
            },
        );
        run.create()?;
        let metrics = MetricsLog::new(run.metrics_path());
        let mut state = TrainState { best_val_loss: f64::INFINITY, ..Default::default() };
        if resume {
            let ckpt = run.checkpoint("last")?;
            ckpt.load_weights(&mut vs)?;
            ckpt.load_optimizer(&mut opt)?;
            state = ckpt.state;
            metrics.truncate_after(state.step)?;
        } else {
            metrics.truncate_after(-1)?;
        }
        let block = model_config.block_size;
        let train = Batcher::new(data.train, block, data.windows, tokenizer, device, "training")?;
        let val = Batcher::new(data.val, block, data.windows, tokenizer, device, "validation")?;
        Ok(Self {
            config,
            tokenizer,
            run,
            title: title.to_owned(),
            vs,
            model,
            opt,
            state,
            train,
            val,
            metrics,
            resumed: resume,
        })
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

    /// Trains up to `max_steps`, evaluating and checkpointing every `eval_interval`
    /// steps and at the end. `progress` shows a progress bar on a terminal.
    pub fn run(&mut self, progress: bool) -> Result<TrainSummary, TrainError> {
        let cfg = self.config;
        let start = self.state.step;
        let tokens_per_step = (cfg.batch_size * cfg.grad_accum * self.model.config().block_size) as u64;
        let bar = if progress { ProgressBar::new(cfg.max_steps as u64) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix("step");
        bar.set_position(start as u64);
        let session = Instant::now();
        let elapsed_before = self.state.elapsed_s;
        let (mut since_eval, mut tokens_since_eval) = (Instant::now(), 0u64);
        let mut lr = learning_rate(start, cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.decay_end());
        let mut step = start;
        loop {
            let due = step % cfg.eval_interval == 0 || step == cfg.max_steps;
            if due && !(self.resumed && step == start) {
                self.state.elapsed_s = elapsed_before + session.elapsed().as_secs_f64();
                let tokens_per_s = tokens_since_eval as f64 / since_eval.elapsed().as_secs_f64().max(1e-9);
                self.evaluate_and_save(lr, tokens_per_s)?;
                bar.suspend(|| {
                    eprintln!(
                        "step {step}: train loss {:.4}, val loss {:.4}",
                        self.state.train_loss, self.state.val_loss
                    )
                });
                (since_eval, tokens_since_eval) = (Instant::now(), 0);
            }
            if step >= cfg.max_steps {
                break;
            }
            lr = learning_rate(step, cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.decay_end());
            let loss = self.train_step(step, lr);
            step += 1;
            self.state.step = step;
            self.state.tokens_seen += tokens_per_step;
            tokens_since_eval += tokens_per_step;
            let rate = tokens_since_eval as f64 / since_eval.elapsed().as_secs_f64().max(1e-9);
            bar.set_position(step as u64);
            bar.set_message(format!("loss {loss:.4} lr {lr:.2e} {:.1}k tok/s", rate / 1e3));
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

    /// One optimizer step over `grad_accum` micro-batches; returns the mean loss.
    /// Data and dropout are seeded by the step, so a resumed run draws what an
    /// uninterrupted one would.
    fn train_step(&mut self, step: i64, lr: f64) -> f64 {
        let cfg = self.config;
        let seed = cfg.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = StdRng::seed_from_u64(seed);
        tch::manual_seed(seed as i64);
        let mut total = 0.0;
        let mut grads: Vec<Tensor> = Vec::new();
        for _ in 0..cfg.grad_accum {
            let (x, y) = self.train.random(cfg.batch_size, &mut rng, Some(self.tokenizer)); // (B, T) each
            let loss = self.model.loss(&x, &y, true) / cfg.grad_accum as f64;
            let micro = self.opt.gradients(&loss);
            total += loss.double_value(&[]);
            if grads.is_empty() {
                grads = micro;
            } else {
                tch::no_grad(|| grads.iter_mut().zip(&micro).for_each(|(g, m)| drop(g.g_add_(m))));
            }
        }
        if cfg.grad_clip > 0.0 {
            AdamW::clip_grad_norm(&mut grads, cfg.grad_clip);
        }
        self.opt.step(&grads, lr);
        total
    }

    /// Mean loss over `eval_batches` batches of a split; the same batches every time.
    fn estimate(&self, split: &Batcher, salt: u64) -> f64 {
        let mut rng = StdRng::seed_from_u64(self.config.seed ^ salt);
        tch::no_grad(|| {
            let losses: Vec<Tensor> = (0..self.config.eval_batches)
                .map(|_| {
                    let (x, y) = split.random(self.config.batch_size, &mut rng, None);
                    self.model.loss(&x, &y, false)
                })
                .collect();
            Tensor::stack(&losses, 0).mean(tch::Kind::Float).double_value(&[])
        })
    }

    fn evaluate_and_save(&mut self, lr: f64, tokens_per_s: f64) -> Result<(), TrainError> {
        self.state.train_loss = self.estimate(&self.train, 0x7A1);
        self.state.val_loss = self.estimate(&self.val, 0x7A2);
        let best = self.state.val_loss < self.state.best_val_loss;
        if best {
            self.state.best_val_loss = self.state.val_loss;
        }
        self.run.save(&self.vs, &self.opt, &self.state, best)?;
        self.metrics.append(&EvalRecord {
            step: self.state.step,
            train_loss: self.state.train_loss,
            val_loss: self.state.val_loss,
            lr,
            tokens_per_s,
            elapsed_s: self.state.elapsed_s,
        })?;
        plot_losses(&self.metrics.read()?, &self.title, &self.run.plot_path())
    }
}
