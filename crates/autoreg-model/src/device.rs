use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::{Device, Kind};

/// Where to run: `"auto"` (CUDA when available), `"cpu"`, `"cuda"` or `"cuda:N"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceChoice {
    /// The first CUDA device if there is one, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("unknown device {s:?}: expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\"")),
        }
    }
}

impl TryFrom<String> for DeviceChoice {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<DeviceChoice> for String {
    fn from(d: DeviceChoice) -> String {
        d.to_string()
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Loads libtorch's CUDA library, once, if this libtorch has one.
///
/// torch-sys names libtorch_cuda at link time, but nothing in autoreg calls into it
/// directly, so an `--as-needed` linker drops it, and libtorch would then see no GPU.
/// Opening it at run time registers its CUDA hooks with libtorch, and only for a run
/// that asks for CUDA: a CPU run never loads libtorch_cuda, NCCL or cuDNN. The binary's
/// run-time path (see `crates/build-rpath.rs`) is where the loader finds it.
fn load_cuda() {
    static LOADED: std::sync::Once = std::sync::Once::new();
    LOADED.call_once(|| {
        // SAFETY: a NUL-terminated name; the handle is kept open for the process's life.
        let handle = unsafe { libc::dlopen(c"libtorch_cuda.so".as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if handle.is_null() {
            // A CPU-only libtorch: there is no CUDA to find.
            log::debug!("libtorch_cuda.so not loaded: libtorch sees no CUDA device");
        }
    });
}

/// Resolves a device choice, failing when a requested CUDA device is not there.
pub fn resolve_device(choice: DeviceChoice) -> Result<Device, String> {
    if choice != DeviceChoice::Cpu {
        load_cuda();
    }
    match choice {
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda(n) => {
            let count = tch::Cuda::device_count() as usize;
            if n < count {
                Ok(Device::Cuda(n))
            } else {
                Err(format!("device \"cuda:{n}\" requested, but libtorch sees {count} CUDA device(s)"))
            }
        }
    }
}

/// Precision of the matrix products: weights always stay in f32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// bf16 on CUDA, f32 on the CPU.
    #[default]
    Auto,
    /// Everything in f32.
    Fp32,
    /// Matrix products and attention in bf16 (mixed precision), norms and loss in f32.
    Bf16,
}

impl Precision {
    /// The kind that matrix products run in on `device`.
    pub fn compute_kind(self, device: Device) -> Kind {
        match (self, device) {
            (Self::Fp32, _) | (Self::Auto, Device::Cpu) => Kind::Float,
            _ => Kind::BFloat16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("cuda:1".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(1)));
        assert_eq!("cuda".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cpu".parse::<DeviceChoice>(), Ok(DeviceChoice::Cpu));
        assert!("gpu".parse::<DeviceChoice>().unwrap_err().contains("\"cuda:N\""));
        assert_eq!(DeviceChoice::Cuda(2).to_string(), "cuda:2");
    }

    #[test]
    fn missing_cuda_device_is_an_error() {
        let err = resolve_device(DeviceChoice::Cuda(99)).unwrap_err();
        assert!(err.contains("cuda:99"), "{err}");
    }
}
