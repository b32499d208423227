//! Helpers shared by the integration tests.
#![allow(dead_code)]

use autoreg_pixels::image::{DynamicImage, GrayImage, RgbImage};
use autoreg_pixels::{PixelsConfig, PixelsTokenizer};
use autoreg_tokens::ModalityBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// A data file under the first data root that holds it ([`autoreg_data::find_data`]:
/// `$AUTOREG_DATA` when set, else the copy the project carries). The data must be there: a
/// missing set fails the test that reads it.
pub fn data_file(relative: &str) -> PathBuf {
    let path = autoreg_data::find_data(relative).unwrap_or_else(|e| panic!("{e}"));
    assert!(path.is_file(), "{} is not a file", path.display());
    path
}

/// A random grey image.
pub fn random_grey(width: u32, height: u32, seed: u64) -> DynamicImage {
    let mut rng = StdRng::seed_from_u64(seed);
    DynamicImage::ImageLuma8(GrayImage::from_fn(width, height, |_, _| [rng.random::<u8>()].into()))
}

/// A random RGB image.
pub fn random_rgb(width: u32, height: u32, seed: u64) -> DynamicImage {
    let mut rng = StdRng::seed_from_u64(seed);
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |_, _| rng.random::<[u8; 3]>().into()))
}

/// Saves `image` as PNG at `dir/name` and returns the path.
pub fn save(dir: &Path, name: &str, image: &DynamicImage) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image.save(&path).unwrap();
    path
}

/// PNG bytes of `image`.
pub fn png_bytes(image: &DynamicImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), autoreg_pixels::image::ImageFormat::Png).unwrap();
    bytes
}

/// A tokenizer fitted by `config` on `images`, saved to a temporary folder.
pub fn fit_on(config: &PixelsConfig, images: &[&DynamicImage]) -> PixelsTokenizer {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> =
        images.iter().enumerate().map(|(i, im)| save(dir.path(), &format!("{i}.png"), im)).collect();
    config.build(&files).unwrap()
}

/// Decodes PNG bytes.
pub fn load_png(bytes: &[u8]) -> DynamicImage {
    autoreg_pixels::image::load_from_memory(bytes).unwrap()
}
