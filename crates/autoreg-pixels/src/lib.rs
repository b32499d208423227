//! Image tokenizers (PixelCNN and Image GPT style): images become `BOS [Class_k]
//! pixels... EOS`, pixels in raster order as grey levels, R, G, B sub-pixel levels, or
//! colours of a palette learned by k-means.
//!
//! Inputs are PNG, JPEG, BMP and GIF files (a class per subfolder), IDX files (MNIST,
//! labels from the labels file beside the images file) and CSV rows of pixel values with
//! a trailing label (sklearn's 8x8 digits), each gzip or not. Images are resized to the
//! tokenizer's size and decoded to PNG.
//!
//! Settings are checked before any file is read. Input images of more than 2^25 pixels
//! and gzip data inflating to more than 1 GiB are refused, as are decoded pictures
//! (enlarged by `scale`, or an overview grid) of more than 2^25 pixels. Each kind of
//! lossy conversion (colour to grey, alpha dropped, more than 8 bits per channel,
//! resizing) is logged as a warning once per tokenizer, naming the first file.

mod config;
mod decode;
mod error;
mod fit;
mod grid;
mod lossy;
mod palette;
mod quantize;
mod raster;
mod read;
mod tokenizer;

pub use config::{Colors, Filter, PixelsConfig};
/// The `image` crate, whose `DynamicImage` the in-memory helpers take and return.
pub use image;
pub use read::narrowed;
pub use tokenizer::PixelsTokenizer;
