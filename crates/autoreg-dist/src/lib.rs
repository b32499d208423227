//! Data-parallel training for autoreg on PyTorch's own distributed engine, c10d.
//!
//! tch has no distributed bindings, so a small C++ shim (`cpp/c10d_shim.cpp`), built
//! against the headers of the libtorch that tch links, opens c10d's TCPStore rendezvous
//! and a Gloo process group, and runs its collectives on tch tensors. The rank's place
//! comes from torchrun's environment variables ([`RankEnv`]), so torchrun, SLURM or a
//! Kubernetes job can launch autoreg unchanged; [`launch_local`] starts N ranks on one
//! machine the same way.

mod env;
mod error;
mod ffi;
mod group;
mod launch;

pub use env::RankEnv;
pub use error::DistError;
pub use group::{Backend, ProcessGroup};
pub use launch::launch_local;
