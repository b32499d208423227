//! Training for autoreg: batches of random windows as tensors, the optimizer loop with
//! a warm-up and decay schedule, atomic checkpoints, metrics and plots. The data pipeline
//! (data roots, the token cache, splits, window drawing) is `autoreg-data`.

mod baseline;
mod batch;
mod checkpoint;
mod config;
mod error;
mod eval;
mod infill;
mod metrics;
mod schedule;
mod share;
mod testhook;
mod trainer;

pub use baseline::{Baseline, baseline_nats};
pub use batch::{Batcher, SplitSource};
pub use checkpoint::{Checkpoint, RunDir, RunLock, TrainState};
pub use config::{OptimizerKind, TrainConfig};
pub use error::TrainError;
pub use eval::{Evaluation, Scorer, evaluate};
pub use infill::{InfillScore, evaluate_infill, middle_nats};
pub use metrics::{EvalRecord, MetricsLog, plot_losses};
pub use schedule::Schedule;
pub use trainer::{RunHandle, TrainSummary, Trainer, build_model, check_world_size};
