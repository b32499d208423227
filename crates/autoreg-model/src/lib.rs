//! The autoreg decoder: a GPT-style transformer on libtorch (through `tch`), its AdamW
//! optimizer with saveable moments, and a sampler with a KV cache.

mod config;
mod device;
mod gpt;
mod layers;
mod optim;
mod sampler;

pub use config::{ModelConfig, Positions, available_memory};
pub use device::{DeviceChoice, Precision, resolve_device};
pub use gpt::{Gpt, IGNORE, KvCache};
pub use optim::{AdamW, AdamWConfig};
pub use sampler::{SampleError, SampleOptions, Sampler};
