//! Compiling C++ against the libtorch that torch-sys links, with torch-sys's own flags
//! (`-std=c++17`, `_GLIBCXX_USE_CXX11_ABI`): a module of the build scripts of
//! autoreg-model (fused AdamW) and autoreg-dist (the c10d shim), which include it by
//! `#[path]`. Their C++ shares `crates/cpp` (guard.h).

use std::path::PathBuf;

/// Where libtorch is and how to compile against it.
pub struct Libtorch {
    /// The folder holding `include/` and `lib/`.
    pub root: PathBuf,
    /// `-D_GLIBCXX_USE_CXX11_ABI=...`, as torch-sys compiles its own wrapper.
    pub abi_flag: String,
}

impl Libtorch {
    /// The libtorch that torch-sys (`links = "tch"`) reports to its dependants. The
    /// build reruns when the crate's `cpp/` or the shared `crates/cpp` changes.
    pub fn find() -> Self {
        println!("cargo:rerun-if-changed=cpp");
        println!("cargo:rerun-if-changed=../cpp");
        let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
            panic!("torch-sys did not report libtorch's library folder (DEP_TCH_LIBTORCH_LIB)");
        };
        println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
        let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
        Self { root: PathBuf::from(lib).join(".."), abi_flag: format!("-D_GLIBCXX_USE_CXX11_ABI={abi}") }
    }

    /// The include folders: libtorch's two and `crates/cpp`.
    pub fn includes(&self) -> [PathBuf; 3] {
        [self.root.join("include"), self.root.join("include/torch/csrc/api/include"), PathBuf::from("../cpp")]
    }

    /// A C++ build with libtorch's headers and flags. Nothing it emits (inline functions
    /// of the headers) is visible outside, so nothing can stand in for libtorch's own
    /// definitions.
    pub fn cpp(&self) -> cc::Build {
        let mut build = cc::Build::new();
        build
            .cpp(true)
            .pic(true)
            .warnings(false)
            .includes(self.includes())
            .flag("-std=c++17")
            .flag(&self.abi_flag)
            .flag("-DGLOG_USE_GLOG_EXPORT")
            .flag("-fvisibility=hidden")
            .flag("-fvisibility-inlines-hidden");
        build
    }

    /// Links the crate to libtorch's CPU library and c10.
    pub fn link_cpu(&self) {
        println!("cargo:rustc-link-search=native={}", self.root.join("lib").display());
        println!("cargo:rustc-link-lib=torch_cpu");
        println!("cargo:rustc-link-lib=c10");
    }
}
