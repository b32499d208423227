//! The autoreg decoder: a GPT-style transformer on libtorch (through `tch`), its optimizer
//! (AdamW, or Muon and AdamW) with saveable state, and a sampler with a KV cache that runs on libtorch
//! or on a native CPU decoder.

mod config;
mod device;
mod gpt;
mod layers;
mod native;
mod optim;
mod sampler;

pub use config::{Mlp, ModelConfig, Positions, available_memory};
pub use device::{DeviceChoice, Precision, resolve_device};
pub use gpt::{Gpt, IGNORE, KvCache};
pub use native::{NativeCache, NativeModel, Readout, Weights};
pub use optim::{MuonConfig, OptimConfig, Optimizer};
pub use sampler::{
    Acceptance, Decoder, DraftChoice, NATIVE_THREADS, SampleError, SampleOptions, SampleOverrides, Sampler,
};
