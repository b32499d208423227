//! The root package's end-to-end tests, in one binary: each module drives the `autoreg`
//! command on one feature. One binary links libtorch once, where thirteen did (as
//! ripgrep keeps its integration tests: `autotests = false` in Cargo.toml).

mod common;

mod audio;
mod bad_input;
mod bpe;
mod codec;
mod distributed;
mod image_codec;
mod infill;
mod interrupt;
mod kill;
mod midi;
mod mixed;
mod models;
mod pixels;
mod report;
mod run_integrity;
mod train_sample;
mod video;
