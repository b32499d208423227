//! Compiles the c10d shim (cpp/c10d_shim.cpp) against the headers of the libtorch that
//! torch-sys links (`build-libtorch.rs`), and embeds libtorch's run-time path.
//! Where that libtorch has CUDA (libtorch_cuda, with CUDA's and NCCL's headers beside
//! it, as `cargo setup` installs them), it also builds the NCCL plugin
//! (cpp/nccl_plugin.cpp) as a shared library of its own, and tells the crate its path
//! (`AUTOREG_NCCL_PLUGIN`): the shim opens it only for a CUDA run.

#[path = "../build-libtorch.rs"]
mod libtorch;
#[path = "../build-rpath.rs"]
mod rpath;

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    rpath::main();
    let torch = libtorch::Libtorch::find();
    torch.cpp().include("cpp").flag("-DUSE_C10D_GLOO").file("cpp/c10d_shim.cpp").compile("autoreg_c10d");
    torch.link_cpu();
    if let Some(includes) = cuda_includes(&torch.root) {
        build_nccl_plugin(&torch, &includes);
    }
}

/// The include folders of CUDA and NCCL for the libtorch at `root`: those of the
/// `nvidia-*` wheels beside a torch wheel, or `$CUDA_HOME/include`. `None` when that
/// libtorch has no CUDA, or a header is missing.
fn cuda_includes(root: &Path) -> Option<Vec<PathBuf>> {
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    let nccl_header = root.join("include/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp");
    if !root.join("lib/libtorch_cuda.so").exists() || !nccl_header.exists() {
        return None;
    }
    let nvidia = root.join("../nvidia");
    let mut candidates: Vec<PathBuf> =
        std::fs::read_dir(&nvidia).into_iter().flatten().flatten().map(|e| e.path().join("include")).collect();
    candidates.extend(std::env::var_os("CUDA_HOME").map(|home| PathBuf::from(home).join("include")));
    let holding = |file: &str| candidates.iter().find(|dir| dir.join(file).exists()).cloned();
    Some(vec![holding("crt/host_config.h")?, holding("nv/target")?, holding("nccl.h")?])
}

/// Compiles cpp/nccl_plugin.cpp into `$OUT_DIR/libautoreg_nccl.so`, linked to
/// libtorch_cuda, and hands its path to the crate.
fn build_nccl_plugin(torch: &libtorch::Libtorch, includes: &[PathBuf]) {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("libautoreg_nccl.so");
    let lib = torch.root.join("lib");
    let mut cmd: Command = cc::Build::new().cpp(true).pic(true).get_compiler().to_command();
    cmd.args(["-std=c++17", "-shared", &torch.abi_flag, "-DGLOG_USE_GLOG_EXPORT", "-DUSE_C10D_NCCL", "-DUSE_CUDA"])
        .args(["-fvisibility=hidden", "-fvisibility-inlines-hidden", "-Icpp"])
        .args(torch.includes().iter().chain(includes).flat_map(|dir| [PathBuf::from("-I"), dir.clone()]))
        .arg("cpp/nccl_plugin.cpp")
        .arg("-o")
        .arg(&out)
        .arg("-L")
        .arg(&lib)
        .args(["-ltorch_cuda", "-ltorch_cpu", "-lc10_cuda", "-lc10"])
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run the C++ compiler for the NCCL plugin: {e}"));
    assert!(status.success(), "compiling cpp/nccl_plugin.cpp failed: {cmd:?}");
    println!("cargo:rustc-env=AUTOREG_NCCL_PLUGIN={}", out.display());
}
