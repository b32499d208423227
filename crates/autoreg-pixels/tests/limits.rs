//! Sizes and ranges: every setting is checked before any work, and nothing is decoded
//! into a picture too big to hold.

mod common;

use autoreg_pixels::{Colors, PixelsConfig, PixelsTokenizer};
use autoreg_tokens::{Modality, ModalityBuilder, testing::Tokenize};
use common::*;
use std::path::PathBuf;

#[test]
fn every_numeric_setting_is_checked_before_any_file_is_read() {
    // Had fitting read this file, the error would be that it does not exist.
    let unread = [PathBuf::from("/nonexistent/never-read.png")];
    let palette = PixelsConfig { colors: Colors::Palette, ..Default::default() };
    let cases = [
        (PixelsConfig { width: Some(100_000), ..Default::default() }, "tokenizer.width must be 1 to 4096, not 100000"),
        (PixelsConfig { height: Some(0), ..Default::default() }, "tokenizer.height must be 1 to 4096, not 0"),
        (PixelsConfig { levels: 1, ..Default::default() }, "tokenizer.levels must be 2 to 256, not 1"),
        (PixelsConfig { colors: Colors::Rgb, levels: 257, ..Default::default() }, "tokenizer.levels must be 2 to 256"),
        (PixelsConfig { palette_size: 0, ..palette.clone() }, "tokenizer.palette_size must be 1 to 65536, not 0"),
        (PixelsConfig { palette_size: 65_537, ..palette.clone() }, "tokenizer.palette_size must be 1 to 65536"),
        (
            PixelsConfig { palette_sample: 0, ..palette.clone() },
            "tokenizer.palette_sample must be 1 to 16777216, not 0",
        ),
        (PixelsConfig { palette_sample: usize::MAX, ..palette.clone() }, "tokenizer.palette_sample must be 1 to"),
        (PixelsConfig { max_value: Some(f64::NAN), ..Default::default() }, "tokenizer.max_value must be a finite"),
        (PixelsConfig { max_value: Some(-1.0), ..Default::default() }, "above 0, not -1"),
        (PixelsConfig { max_value: Some(0.0), ..Default::default() }, "above 0, not 0"),
        (PixelsConfig { max_value: Some(f64::INFINITY), ..Default::default() }, "above 0, not inf"),
        (PixelsConfig { scale: 0, ..Default::default() }, "tokenizer.scale must be 1 to 64, not 0"),
        (PixelsConfig { scale: 65, ..Default::default() }, "tokenizer.scale must be 1 to 64, not 65"),
        (
            PixelsConfig { width: Some(4096), height: Some(4096), scale: 2, ..Default::default() },
            "4096x4096 images enlarged 2 times (tokenizer.scale) would be 8192x8192 pixels, more than the 33554432",
        ),
    ];
    for (config, reason) in cases {
        let err = config.build(&unread).unwrap_err().to_string();
        assert!(err.starts_with("cannot fit the pixels tokenizer: ") && err.contains(reason), "{reason}: {err}");
    }
    // Keys that the colours do not use are not checked.
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "a.png", &random_rgb(3, 3, 0));
    let unused = PixelsConfig { levels: 1, palette_size: 2, ..palette };
    assert_eq!(unused.build(std::slice::from_ref(&file)).unwrap().palette().len(), 2);
    let grey = PixelsConfig { palette_size: 0, palette_sample: 0, ..Default::default() };
    assert_eq!(grey.build(&[file]).unwrap().levels(), Some(256));
}

#[test]
fn a_huge_width_is_refused_with_real_images_instead_of_aborting() {
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "a.png", &random_grey(4, 4, 0));
    let config = PixelsConfig { width: Some(100_000), ..Default::default() };
    let err = config.build(&[file]).unwrap_err().to_string();
    assert_eq!(err, "cannot fit the pixels tokenizer: tokenizer.width must be 1 to 4096, not 100000");
}

#[test]
fn a_size_taken_from_a_huge_first_image_is_refused_before_resizing() {
    let dir = tempfile::tempdir().unwrap();
    let wide = save(dir.path(), "wide.png", &random_grey(5000, 1, 0));
    let small = save(dir.path(), "small.png", &random_grey(4, 4, 0));
    let err = PixelsConfig::default().build(&[wide.clone(), small.clone()]).unwrap_err().to_string();
    assert!(err.contains("tokenizer.width must be 1 to 4096, not 5000, the size of the first image"), "{err}");
    assert!(err.contains("wide.png") && err.contains("set tokenizer.width and tokenizer.height"), "{err}");
    // With the size set, the wide image is resized like any other.
    let config = PixelsConfig { width: Some(8), height: Some(2), ..Default::default() };
    assert_eq!(config.build(&[wide, small]).unwrap().width(), 8);
    // A size that is fine alone but too big enlarged.
    let tall = save(dir.path(), "tall.png", &random_grey(1, 4096, 0));
    let err = PixelsConfig { width: Some(4096), scale: 2, ..Default::default() }.build(&[tall]).unwrap_err();
    assert!(err.to_string().contains("4096x4096 images enlarged 2 times"), "{err}");
}

/// A saved grey tokenizer of `width` x `height`, enlarging `scale` times: one that the
/// current limits would not fit but that loads.
fn loaded(width: u32, height: u32, scale: u32) -> PixelsTokenizer {
    let small = fit_on(&PixelsConfig::default(), &[&random_grey(2, 2, 0)]);
    let mut json = serde_json::to_value(&small).unwrap();
    json["width"] = width.into();
    json["height"] = height.into();
    json["scale"] = scale.into();
    serde_json::from_value(json).unwrap()
}

#[test]
fn decoding_past_the_size_limit_is_refused_before_drawing() {
    let tok = loaded(4096, 4096, 64);
    let err = tok.decode_bytes(&[tok.specials().bos, 7]).unwrap_err().to_string();
    assert_eq!(
        err,
        "decoded image: 4096x4096 images enlarged 64 times (tokenizer.scale) would be 262144x262144 pixels, \
         more than the 33554432 allowed: lower tokenizer.scale or the image size"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = tok.decode_to_file(&[], &dir.path().join("x.png")).unwrap_err().to_string();
    assert!(err.contains("262144x262144"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // The image itself, not enlarged, still decodes.
    assert_eq!(tok.decode_pixels(&[]).len(), 4096 * 4096);
}

#[test]
fn an_overview_past_the_size_limit_is_refused_before_drawing() {
    let tok = loaded(100, 100, 8);
    let doc = vec![tok.specials().bos, 255, tok.specials().eos];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overview.png");
    let rows = vec![vec![doc.clone(); 10]; 10];
    let err = tok.write_overview(&rows, &path).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("an overview of 10 rows of 10 samples would be 8009x8009 pixels"), "{err}");
    assert!(err.contains("draw fewer samples") && !path.exists(), "{err}");
    // A million samples in one row: sizes that overflow 32 bits are refused too.
    let many = vec![vec![doc.clone(); 1_000_000]];
    assert!(tok.write_overview(&many, &path).unwrap_err().to_string().contains("800999999x800 pixels"));
    assert!(tok.write_overview(&[vec![doc; 2]], &path).unwrap() && path.is_file());
}
