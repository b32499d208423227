//! libtorch's CUDA library is opened only when a run asks for CUDA (or `auto`): a CPU
//! run maps neither libtorch_cuda nor NCCL into the process.

use autoreg_model::{DeviceChoice, resolve_device};
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

fn maps() -> String {
    std::fs::read_to_string("/proc/self/maps").unwrap()
}

#[test]
fn only_a_cuda_run_loads_libtorch_cuda_and_nccl() {
    assert_eq!(resolve_device(DeviceChoice::Cpu), Ok(Device::Cpu));
    let x = Tensor::ones([64, 64], (Kind::Float, Device::Cpu));
    assert_eq!(x.matmul(&x).sum(Kind::Float).double_value(&[]), 64.0 * 64.0 * 64.0);
    let before = maps();
    assert!(!before.contains("libtorch_cuda.so"), "a CPU run loaded libtorch_cuda");
    assert!(!before.contains("libnccl"), "a CPU run loaded NCCL");

    // Where this libtorch has CUDA (the torch wheel does), `auto` opens it.
    let cpu_lib = before.lines().find_map(|l| l.split_whitespace().last().filter(|p| p.ends_with("/libtorch_cpu.so")));
    let cuda_lib = PathBuf::from(cpu_lib.expect("libtorch_cpu.so is mapped")).with_file_name("libtorch_cuda.so");
    let device = resolve_device(DeviceChoice::Auto).unwrap();
    assert_eq!(maps().contains("libtorch_cuda.so"), cuda_lib.exists());
    // With no GPU on the machine, `auto` is the CPU.
    assert_eq!(device == Device::Cpu, tch::Cuda::device_count() == 0);
}
