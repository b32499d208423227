//! The build script of every package that links libtorch (the root package,
//! autoreg-model, autoreg-train, autoreg-codec, autoreg-bench), named by `build = ...` in
//! each manifest.
//!
//! torch-sys links libtorch dynamically but gives our binaries and tests no run-time
//! search path for it: embed one, so that nothing needs LD_LIBRARY_PATH.
pub fn main() {
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
