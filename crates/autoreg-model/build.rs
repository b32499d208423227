//! Compiles the fused AdamW shim (cpp/fused_adamw.cpp) against the headers of the
//! libtorch that torch-sys links (`build-libtorch.rs`), and embeds libtorch's run-time
//! path.

#[path = "../build-libtorch.rs"]
mod libtorch;
#[path = "../build-rpath.rs"]
mod rpath;

fn main() {
    rpath::main();
    let torch = libtorch::Libtorch::find();
    torch.cpp().file("cpp/fused_adamw.cpp").compile("autoreg_fused_adamw");
    torch.link_cpu();
}
