use std::path::PathBuf;

/// What can go wrong while preparing data, training or checkpointing.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The data set is missing, empty or too small.
    #[error("data: {0}")]
    Data(String),
    /// Finding, tokenizing, caching, splitting or windowing the data failed.
    #[error(transparent)]
    Dataset(#[from] autoreg_data::DataError),
    /// A data-parallel collective failed (another rank stopped, or a timeout).
    #[error(transparent)]
    Dist(#[from] autoreg_dist::DistError),
    /// A tokenizer error while preparing data.
    #[error(transparent)]
    Token(#[from] autoreg_tokens::TokenError),
    /// Decoding failed while evaluating (infilling).
    #[error(transparent)]
    Sample(#[from] autoreg_model::SampleError),
    /// A run directory or checkpoint is missing or damaged.
    #[error("{}: {reason}", path.display())]
    Checkpoint {
        /// The run directory or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// libtorch reported an error.
    #[error("{context}: {source}")]
    Torch {
        /// What was being done.
        context: String,
        /// The libtorch error.
        source: tch::TchError,
    },
    /// The configuration cannot work (a key named with its section).
    #[error("{0}")]
    Config(String),
    /// Another process holds the run directory's lock.
    #[error(
        "{} is in use by another training process ({holder}, which holds {}): wait for it to end or stop it",
        run.display(),
        lock.display()
    )]
    Busy {
        /// The run directory.
        run: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// Who holds it: `PID 1234`, or `PID unknown`.
        holder: String,
    },
    /// A loss became NaN or infinite; nothing of that step was saved.
    #[error(
        "the loss became {loss} at step {step}: training diverged (lower train.lr, raise train.warmup_steps \
         or train.grad_clip); the checkpoints saved before are intact"
    )]
    Diverged {
        /// The step whose loss it was.
        step: i64,
        /// The loss.
        loss: f64,
    },
    /// Training was stopped (Ctrl-C) after a step, and that step was saved.
    #[error("interrupted at step {step}, which is saved: continue with `autoreg train --resume {}`", run.display())]
    Interrupted {
        /// The step saved.
        step: i64,
        /// The run directory.
        run: PathBuf,
    },
}

impl TrainError {
    /// An [`TrainError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// A [`TrainError::Checkpoint`] for `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Checkpoint { path: path.into(), reason: reason.into() }
    }

    /// A [`TrainError::Torch`] with `context`.
    pub fn torch(context: impl Into<String>) -> impl FnOnce(tch::TchError) -> Self {
        let context = context.into();
        move |source| Self::Torch { context, source }
    }
}
