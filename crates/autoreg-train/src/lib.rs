//! Training for autoreg: data sets tokenized once into a cache, random windows,
//! the AdamW loop with warm-up and cosine decay, atomic checkpoints, metrics and plots.

mod baseline;
mod batch;
mod checkpoint;
mod config;
mod data;
mod error;
mod eval;
mod metrics;
mod schedule;
mod testhook;
mod trainer;

pub use baseline::{Baseline, baseline_nats};
pub use batch::Batcher;
pub use checkpoint::{Checkpoint, RunDir, RunLock, TrainState};
pub use config::{DataConfig, SplitMode, TrainConfig, Windows};
pub use data::{Dataset, list_files, load_dataset, resolve_data_path};
pub use error::TrainError;
pub use eval::{Evaluation, evaluate};
pub use metrics::{MetricsLog, plot_losses};
pub use schedule::learning_rate;
pub use trainer::{TrainSummary, Trainer, build_model};
