use std::path::PathBuf;

/// What can go wrong in setting up or running a process group.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// A launcher environment variable is missing, malformed or inconsistent.
    #[error("{var}: {reason}")]
    Env {
        /// The variable, e.g. `RANK`.
        var: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// c10d failed: the rendezvous, the process group, or a collective.
    #[error("{what} failed: {message}")]
    C10d {
        /// What was being done (`"the rendezvous at 127.0.0.1:29500"`, `"all-reduce"`).
        what: String,
        /// c10d's message.
        message: String,
    },
    /// A tensor cannot take part in a collective.
    #[error("{0}")]
    Tensor(String),
    /// The local launcher could not start or watch a rank.
    #[error("{}: {reason}", program.display())]
    Launch {
        /// The program it launches.
        program: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The local launcher's ranks were interrupted (Ctrl-C), and have all ended.
    #[error("interrupted: every rank has stopped (their messages say where)")]
    Interrupted,
    /// A rank started by the local launcher failed; the others were stopped.
    #[error("rank {rank} {how}; the other ranks were stopped")]
    RankFailed {
        /// The first rank that failed.
        rank: usize,
        /// How it ended: `"exited with status 1"`, `"was killed by signal 9"`.
        how: String,
    },
}
