//! Lossy conversions (colour to grey, alpha dropped, more than 8 bits, resizing) are
//! each reported once per tokenizer, naming the first file.

mod common;

use autoreg_pixels::image::{DynamicImage, ImageBuffer, Luma, RgbaImage};
use autoreg_pixels::{Colors, PixelsConfig, PixelsTokenizer};
use autoreg_tokens::testing::keep_logs;
use autoreg_tokens::{ModalityBuilder, testing::Tokenize};
use common::*;
use std::path::{Path, PathBuf};

/// The messages logged so far about files in `dir` (tests run in parallel and share
/// the logger; each has its own folder).
fn logged(dir: &Path) -> Vec<String> {
    autoreg_tokens::testing::logged(&dir.display().to_string())
}

/// A colour image with an alpha channel.
fn rgba(seed: u8) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(4, 4, |x, y| [x as u8 * 60, y as u8 * 60, seed, 128].into()))
}

/// Saves `images` as `dir/0.png`, `dir/1.png`, ...
fn save_all(dir: &Path, images: &[DynamicImage]) -> Vec<PathBuf> {
    images.iter().enumerate().map(|(i, im)| save(dir, &format!("{i}.png"), im)).collect()
}

/// The tokenizer saved and loaded again.
fn reloaded(tok: &PixelsTokenizer) -> PixelsTokenizer {
    serde_json::from_str(&serde_json::to_string(tok).unwrap()).unwrap()
}

#[test]
fn two_colour_files_give_one_warning_of_each_kind_naming_the_first() {
    keep_logs();
    let dir = tempfile::tempdir().unwrap();
    let plain = save(dir.path(), "plain.png", &random_grey(4, 4, 0));
    let tok = PixelsConfig::default().build(std::slice::from_ref(&plain)).unwrap();
    assert!(logged(dir.path()).is_empty(), "{:?}", logged(dir.path()));
    let files = save_all(dir.path(), &[rgba(1), rgba(2)]);
    for file in &files {
        tok.encode_file(file).unwrap();
    }
    let first = files[0].display();
    assert_eq!(
        logged(dir.path()),
        [
            format!("WARN: {first} is in colour: it is converted to grey (said once; other files may be too)"),
            format!("WARN: {first} has an alpha channel: it is dropped (said once; other files may be too)"),
        ]
    );
    // RGB keeps the colours, but not the alpha channel; a grey file in RGB loses nothing.
    let rgb = PixelsConfig { colors: Colors::Rgb, ..Default::default() }.build(&[plain]).unwrap();
    for file in &files {
        rgb.encode_file(file).unwrap();
    }
    assert_eq!(logged(dir.path()).len(), 3);
    assert!(logged(dir.path())[2].ends_with("has an alpha channel: it is dropped (said once; other files may be too)"));
}

#[test]
fn what_fitting_reported_is_not_said_again_when_encoding_but_after_loading() {
    keep_logs();
    let dir = tempfile::tempdir().unwrap();
    let files = save_all(dir.path(), &[random_grey(5, 5, 0), random_grey(5, 5, 1), random_grey(6, 3, 2)]);
    let config = PixelsConfig { width: Some(4), height: Some(4), ..Default::default() };
    let tok = config.build(&files).unwrap();
    let said = logged(dir.path());
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains(" is 5x5: it is resized to 4x4") || said[0].contains(" is 6x3: it is resized to 4x4"));
    for file in &files {
        tok.encode_file(file).unwrap();
    }
    tok.clone().encode_file(&files[0]).unwrap();
    assert_eq!(logged(dir.path()).len(), 1);
    let loaded = reloaded(&tok);
    loaded.encode_file(&files[2]).unwrap();
    loaded.encode_file(&files[0]).unwrap();
    assert_eq!(
        logged(dir.path())[1..],
        [format!("WARN: {} is 6x3: it is resized to 4x4 (said once; other files may be too)", files[2].display())]
    );
}

#[test]
fn images_of_more_than_8_bits_are_reported() {
    keep_logs();
    let dir = tempfile::tempdir().unwrap();
    let deep = DynamicImage::ImageLuma16(ImageBuffer::<Luma<u16>, _>::from_fn(2, 2, |x, _| [x as u16 * 1000].into()));
    let files = save_all(dir.path(), &[deep.clone(), deep]);
    PixelsConfig::default().build(&files).unwrap();
    assert_eq!(logged(dir.path()).len(), 1);
    assert!(logged(dir.path())[0].contains(".png has 16 bits per channel: tokens hold at most 256 levels"));
}
