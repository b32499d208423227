//! A c10d process group, and the collectives training needs, on tch tensors.

use crate::env::RankEnv;
use crate::error::DistError;
use crate::ffi;
use std::ffi::{CStr, CString, c_char};
use std::ptr::NonNull;
use std::time::Duration;
use tch::{Device, Kind, Tensor};

/// Which c10d backend carries the collectives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Gloo, for tensors on the CPU.
    Gloo,
    /// NCCL, for tensors on CUDA device N (this rank's GPU).
    Nccl(usize),
}

/// The NCCL plugin that the build made (absent where libtorch has no CUDA).
const NCCL_PLUGIN: Option<&str> = option_env!("AUTOREG_NCCL_PLUGIN");

impl Backend {
    /// The backend for tensors on `device`: Gloo on the CPU, NCCL on CUDA; MPS and
    /// Vulkan have none.
    pub fn for_device(device: Device) -> Result<Self, DistError> {
        match device {
            Device::Cpu => Ok(Self::Gloo),
            Device::Cuda(n) => Ok(Self::Nccl(n)),
            other => Err(DistError::Tensor(format!("c10d has no backend for tensors on {other:?}"))),
        }
    }

    fn name(self) -> &'static CStr {
        match self {
            Self::Gloo => c"gloo",
            Self::Nccl(_) => c"nccl",
        }
    }
}

/// Flattened buckets hold about this many bytes, as PyTorch DDP's default
/// `bucket_cap_mb = 25`.
const BUCKET_BYTES: i64 = 25 << 20;

/// One process's membership of a process group: its rank, and collectives with the
/// others. Every rank must call the same collectives in the same order.
pub struct ProcessGroup {
    raw: NonNull<ffi::ArGroup>,
    rank: usize,
    world_size: usize,
    local_rank: usize,
}

// The group is used from one thread at a time (its methods take `&mut self`); c10d's
// backends may be moved between threads.
unsafe impl Send for ProcessGroup {}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: `raw` came from ar_group_new and is freed once, here.
        unsafe { ffi::ar_group_free(self.raw.as_ptr()) }
    }
}

/// Runs a shim call; its message, when it fails, becomes a [`DistError::C10d`].
fn call(what: &str, f: impl FnOnce(*mut *mut c_char) -> i32) -> Result<(), DistError> {
    let mut err: *mut c_char = std::ptr::null_mut();
    if f(&mut err) == 0 {
        return Ok(());
    }
    let message = if err.is_null() {
        "no message".to_owned()
    } else {
        // SAFETY: the shim wrote a NUL-terminated string that we own and free here.
        let text = unsafe { CStr::from_ptr(err) }.to_string_lossy().trim().to_owned();
        unsafe { ffi::ar_free_string(err) };
        text
    };
    Err(DistError::C10d { what: what.to_owned(), message })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl ProcessGroup {
    /// Joins the job that `env` describes: connects to (rank 0: hosts) the TCPStore at
    /// `MASTER_ADDR:MASTER_PORT` and builds the `backend` group on it. Every wait, the
    /// rendezvous included, gives up after `timeout` with an error.
    pub fn new(env: &RankEnv, backend: Backend, timeout: Duration) -> Result<Self, DistError> {
        let (rank, world_size) = (env.rank, env.world_size);
        let bad = |reason: String| DistError::Env { var: "MASTER_ADDR", reason };
        let host = CString::new(env.master_addr.clone()).map_err(|_| bad("holds a NUL byte".to_owned()))?;
        let what = format!("joining the rendezvous at {}:{}", env.master_addr, env.master_port);
        let plugin = NCCL_PLUGIN
            .map(CString::new)
            .transpose()
            .map_err(|_| DistError::Tensor("the NCCL plugin's path holds a NUL byte".to_owned()))?;
        let device_index = match backend {
            Backend::Nccl(n) => n as i32,
            Backend::Gloo => -1,
        };
        let mut raw = std::ptr::null_mut();
        call(&what, |err| {
            // SAFETY: the strings outlive the call; the shim reports failure through `err`.
            raw = unsafe {
                ffi::ar_group_new(
                    backend.name().as_ptr(),
                    host.as_ptr(),
                    env.master_port,
                    rank as i32,
                    world_size as i32,
                    millis(timeout),
                    i32::from(env.external_store),
                    plugin.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                    device_index,
                    err,
                )
            };
            i32::from(raw.is_null())
        })?;
        let raw = NonNull::new(raw)
            .ok_or_else(|| DistError::C10d { what, message: "no process group came back".to_owned() })?;
        Ok(Self { raw, rank, world_size, local_rank: env.local_rank })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// This process's rank on its machine.
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }

    fn call(
        &mut self,
        what: &str,
        f: impl FnOnce(*mut ffi::ArGroup, *mut *mut c_char) -> i32,
    ) -> Result<(), DistError> {
        let raw = self.raw.as_ptr();
        call(what, |err| f(raw, err))
    }

    /// Sums `tensor` over all ranks, in place; it must be contiguous.
    pub fn all_reduce_sum(&mut self, tensor: &mut Tensor) -> Result<(), DistError> {
        check_contiguous(tensor)?;
        let t = tensor.as_mut_ptr().cast();
        // SAFETY: `t` is a live at::Tensor handle for the duration of the call.
        self.call("all-reduce", |g, err| unsafe { ffi::ar_all_reduce_sum(g, t, err) })
    }

    /// Averages `tensor` over all ranks, in place: the sum, divided by the number of
    /// ranks (Gloo has no average of its own).
    pub fn all_reduce_mean(&mut self, tensor: &mut Tensor) -> Result<(), DistError> {
        self.all_reduce_sum(tensor)?;
        let n = self.world_size as f64;
        tch::no_grad(|| drop(tensor.g_div_scalar_(n)));
        Ok(())
    }

    /// Overwrites `tensor` on every rank with rank `root`'s; it must be contiguous.
    pub fn broadcast(&mut self, tensor: &mut Tensor, root: usize) -> Result<(), DistError> {
        check_contiguous(tensor)?;
        let t = tensor.as_mut_ptr().cast();
        // SAFETY: as in all_reduce_sum.
        self.call("broadcast", |g, err| unsafe { ffi::ar_broadcast(g, t, root as i32, err) })
    }

    /// Waits until every rank has come here, for at most `timeout`.
    pub fn barrier(&mut self, timeout: Duration) -> Result<(), DistError> {
        self.call("barrier", |g, err| unsafe { ffi::ar_barrier(g, millis(timeout), err) })
    }

    /// Sums each tensor over all ranks, in place, a bucket of them at a time: the
    /// tensors of one kind are flattened into buckets of about 25 MiB, each summed by
    /// one all-reduce and copied back.
    pub fn all_reduce_sum_all(&mut self, tensors: &mut [Tensor]) -> Result<(), DistError> {
        self.bucketed(tensors, |group, bucket| group.all_reduce_sum(bucket))
    }

    /// Overwrites each tensor on every rank with rank `root`'s, in buckets as
    /// [`ProcessGroup::all_reduce_sum_all`] does.
    pub fn broadcast_all(&mut self, tensors: &mut [Tensor], root: usize) -> Result<(), DistError> {
        self.bucketed(tensors, |group, bucket| group.broadcast(bucket, root))
    }

    fn bucketed(
        &mut self,
        tensors: &mut [Tensor],
        mut op: impl FnMut(&mut Self, &mut Tensor) -> Result<(), DistError>,
    ) -> Result<(), DistError> {
        for bucket in buckets(tensors)? {
            let flat: Vec<Tensor> = bucket.iter().map(|&i| tensors[i].reshape([-1])).collect();
            let mut joined = tch::no_grad(|| Tensor::cat(&flat, 0)); // (sum of numels,)
            op(self, &mut joined)?;
            let mut offset = 0;
            for &i in &bucket {
                let t = &mut tensors[i];
                let n = t.numel() as i64;
                tch::no_grad(|| t.copy_(&joined.narrow(0, offset, n).view_as(t)));
                offset += n;
            }
        }
        Ok(())
    }
}

fn check_contiguous(tensor: &Tensor) -> Result<(), DistError> {
    if tensor.defined() && tensor.is_contiguous() {
        Ok(())
    } else {
        Err(DistError::Tensor(format!("a collective needs a defined, contiguous tensor, got {:?}", tensor.size())))
    }
}

/// Groups the indices of `tensors` into buckets of one kind and device, of at most
/// [`BUCKET_BYTES`] each unless a single tensor is larger, in order.
fn buckets(tensors: &[Tensor]) -> Result<Vec<Vec<usize>>, DistError> {
    let mut out: Vec<(Kind, Device, i64, Vec<usize>)> = Vec::new();
    for (i, t) in tensors.iter().enumerate() {
        if !t.defined() {
            return Err(DistError::Tensor(format!("tensor {i} of a bucketed collective is undefined")));
        }
        let (kind, device) = (t.kind(), t.device());
        let bytes = t.numel() as i64 * kind.elt_size_in_bytes() as i64;
        match out.iter_mut().rev().find(|(k, d, ..)| *k == kind && *d == device) {
            Some((_, _, size, members)) if *size + bytes <= BUCKET_BYTES => {
                *size += bytes;
                members.push(i);
            }
            _ => out.push((kind, device, bytes, vec![i])),
        }
    }
    Ok(out.into_iter().map(|(.., members)| members).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_by_kind_and_size() {
        let big = 5 << 20; // 20 MiB of f32
        let ts = [
            Tensor::zeros([big], (Kind::Float, Device::Cpu)),
            Tensor::zeros([8], (Kind::Int64, Device::Cpu)),
            Tensor::zeros([big], (Kind::Float, Device::Cpu)),
            Tensor::zeros([16], (Kind::Float, Device::Cpu)),
        ];
        assert_eq!(buckets(&ts).unwrap(), vec![vec![0], vec![1], vec![2, 3]]);
        assert!(buckets(&[Tensor::new()]).unwrap_err().to_string().contains("undefined"));
    }
}
