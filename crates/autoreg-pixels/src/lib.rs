//! Image tokenizers (PixelCNN and Image GPT style): images become `BOS [Class_k]
//! pixels... EOS`, pixels in raster order as grey levels, R, G, B sub-pixel levels, or
//! colours of a palette learned by k-means.
//!
//! Inputs are PNG, JPEG, BMP and GIF files (a class per subfolder), IDX files (MNIST,
//! labels from the labels file beside the images file) and CSV rows of pixel values with
//! a trailing label (sklearn's 8x8 digits), each gzip or not. Images are resized to the
//! tokenizer's size and decoded to PNG.

mod config;
mod decode;
mod error;
mod fit;
mod grid;
mod palette;
mod quantize;
mod raster;
mod read;
mod tokenizer;

pub use config::{Colors, Filter, PixelsConfig};
/// The `image` crate, whose `DynamicImage` the in-memory helpers take and return.
pub use image;
pub use tokenizer::PixelsTokenizer;
