//! `cargo setup`: makes `.venv/` with the pinned `torch` wheel and links `.venv/libtorch`
//! to it, which is where `.cargo/config.toml` points `LIBTORCH` for torch-sys; and adds
//! the Python packages the tests check autoreg's files with (`tokenizers` for its BPE,
//! `transformers` and `gguf` for its exported models); and the CUDA headers that autoreg's NCCL plugin is compiled against (the wheel ships
//! CUDA's libraries, not all of its headers).
//!
//! Idempotent: a venv that already holds the pinned versions is reused. The torch part
//! is skipped when the user points `LIBTORCH` at a libtorch of their own.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The PyTorch release that `tch` 0.26 is built against.
const TORCH_VERSION: &str = "2.13.0";

/// The Python packages the tests use, pinned: `tokenizers` is the release whose
/// `tokenizer.json` format autoreg's Rust `tokenizers` crate (0.23) writes;
/// `transformers` loads exported GPT-2 folders; `gguf` (llama.cpp's own reader) and
/// `llama-cpp-python` (llama.cpp itself, built from source by pip: about 3 minutes on
/// 2 cores, the first time) read exported GGUF files.
const PYTHON_PACKAGES: [(&str, &str); 4] =
    [("tokenizers", "0.23.3"), ("transformers", "5.18.0"), ("gguf", "0.19.0"), ("llama-cpp-python", "0.3.36")];

/// The `cuda-toolkit` release that the torch wheel requires; its `crt` and `cccl` parts
/// hold the CUDA headers that `ProcessGroupNCCL.hpp` includes.
const CUDA_TOOLKIT_VERSION: &str = "13.0.3";

fn main() -> Result<()> {
    if install_torch()? {
        install_cuda_headers()?;
    }
    install_python_packages()
}

/// Installs the CUDA headers beside the venv's torch unless they are there.
fn install_cuda_headers() -> Result<()> {
    let venv = venv_dir()?;
    let include = venv.join("libtorch/../nvidia/cu13/include");
    if include.join("crt/host_config.h").exists() && include.join("nv/target").exists() {
        println!("CUDA headers ready");
        return Ok(());
    }
    println!("installing the CUDA headers (cuda-toolkit[crt,cccl]=={CUDA_TOOLKIT_VERSION})");
    pip_install(&venv_python(&venv)?, &format!("cuda-toolkit[crt,cccl]=={CUDA_TOOLKIT_VERSION}"))
}

/// `pip install --quiet SPEC` with the venv's `python`. No download cache: the torch
/// wheels would take as much disk again as the install.
fn pip_install(python: &Path, spec: &str) -> Result<()> {
    run(Command::new(python).args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--quiet",
        spec,
    ]))
}

/// The venv's python, made with `$AUTOREG_PYTHON` (default `python3`) if missing.
fn venv_python(venv: &Path) -> Result<PathBuf> {
    let python = std::env::var("AUTOREG_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if !venv.join("bin/python").exists() {
        println!("creating {} with {python}", venv.display());
        run(Command::new(&python).args(["-m", "venv"]).arg(venv))?;
    }
    Ok(venv.join("bin/python"))
}

/// The project root's `.venv`.
fn venv_dir() -> Result<PathBuf> {
    // CARGO_MANIFEST_DIR is crates/autoreg-setup; the project root is two levels up.
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().context("cannot find the project root")?;
    Ok(root.join(".venv"))
}

/// Installs the pinned Python packages into the venv unless they are there.
fn install_python_packages() -> Result<()> {
    let python = venv_python(&venv_dir()?)?;
    let pins: Vec<String> = PYTHON_PACKAGES.iter().map(|(name, version)| format!("{name}=={version}")).collect();
    let check = format!(
        "import importlib.metadata as m, sys; sys.exit(any(m.version(n) != v for n, v in {PYTHON_PACKAGES:?}))"
    );
    if Command::new(&python).args(["-c", &check]).output().is_ok_and(|o| o.status.success()) {
        println!("{} ready", pins.join(", "));
        return Ok(());
    }
    println!("installing {}", pins.join(", "));
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--quiet"])
        .args(&pins))
}

/// Installs the pinned torch into the venv and links `.venv/libtorch` to it; returns
/// whether the venv's torch is the one in use (not a `LIBTORCH` of the user's).
fn install_torch() -> Result<bool> {
    let venv = venv_dir()?;
    let link = venv.join("libtorch");

    if let Some(user) = std::env::var_os("LIBTORCH").map(PathBuf::from)
        && user != link
    {
        println!("LIBTORCH={} is set: using it, nothing to install", user.display());
        return Ok(false);
    }
    if installed_version(&link).as_deref() == Some(TORCH_VERSION) {
        println!("libtorch {TORCH_VERSION} ready in {}", link.display());
        return Ok(true);
    }

    let venv_python = venv_python(&venv)?;
    println!("installing torch=={TORCH_VERSION} into {} (about 5 GB)", venv.display());
    pip_install(&venv_python, &format!("torch=={TORCH_VERSION}"))?;

    let output = Command::new(&venv_python)
        .args(["-c", "import os, torch; print(os.path.dirname(torch.__file__))"])
        .output()
        .context("cannot run the venv's python")?;
    if !output.status.success() {
        bail!("`import torch` failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let torch_dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(&link).with_context(|| format!("cannot replace {}", link.display()))?;
    }
    std::os::unix::fs::symlink(&torch_dir, &link)
        .with_context(|| format!("cannot link {} to {}", link.display(), torch_dir.display()))?;
    match installed_version(&link) {
        Some(v) if v == TORCH_VERSION => {
            println!("libtorch {TORCH_VERSION} ready in {}", link.display());
            Ok(true)
        }
        other => bail!("expected torch {TORCH_VERSION} in {}, found {other:?}", link.display()),
    }
}

/// The torch version installed at `libtorch` (a torch package directory), if any.
fn installed_version(libtorch: &Path) -> Option<String> {
    let text = std::fs::read_to_string(libtorch.join("version.py")).ok()?;
    let line = text.lines().find(|l| l.starts_with("__version__"))?;
    let version = line.split(['\'', '"']).nth(1)?;
    Some(version.split('+').next().unwrap_or(version).to_owned())
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}
