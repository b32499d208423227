//! Fitting: the k-means palette, classes, sizes, and the saved JSON form.

mod common;

use autoreg_pixels::{Colors, PixelsConfig, PixelsTokenizer};
use autoreg_tokens::{Modality, ModalityBuilder, testing::Tokenize};
use common::*;
use std::path::PathBuf;

#[test]
fn the_palette_is_deterministic_for_a_seed_and_of_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..3).map(|i| save(dir.path(), &format!("{i}.png"), &random_rgb(16, 16, i))).collect();
    let config = PixelsConfig { colors: Colors::Palette, palette_size: 24, palette_sample: 500, ..Default::default() };
    let a = config.build(&files).unwrap();
    assert_eq!(a.palette().len(), 24);
    assert_eq!(a.palette(), config.build(&files).unwrap().palette());
    let other = PixelsConfig { seed: 1, ..config.clone() }.build(&files).unwrap();
    assert_ne!(a.palette(), other.palette());
    assert_eq!(a.vocab_size(), 24 + 3);
    assert!(a.token_name(0).unwrap().starts_with("Colour_0_#"));

    // Fewer distinct colours than asked for: the palette is those colours.
    let two = autoreg_pixels::image::DynamicImage::ImageRgb8(autoreg_pixels::image::RgbImage::from_fn(4, 4, |x, _| {
        if x < 2 { [10, 20, 30].into() } else { [200, 100, 0].into() }
    }));
    let few = fit_on(&config, &[&two]);
    assert_eq!(few.palette(), [[10, 20, 30], [200, 100, 0]]);
}

#[test]
fn the_saved_form_round_trips_and_is_an_object_without_kind() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> =
        ["3", "10", "7"].iter().map(|c| save(dir.path(), &format!("{c}/a.png"), &random_rgb(5, 5, 1))).collect();
    let config = PixelsConfig { colors: Colors::Palette, palette_size: 8, conditional: true, ..Default::default() };
    let tok = config.build(&files).unwrap();
    assert_eq!(tok.classes(), ["3", "7", "10"], "numeric class names sort as numbers");
    let json = serde_json::to_value(&tok).unwrap();
    assert!(json.is_object() && json.get("kind").is_none(), "{json}");
    assert_eq!(json["palette"].as_array().unwrap().len(), 8);
    let back: PixelsTokenizer = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, tok);
    assert_eq!(back.encode_file(&files[2]).unwrap(), tok.encode_file(&files[2]).unwrap());

    let grey = fit_on(&PixelsConfig { levels: 17, ..Default::default() }, &[&random_grey(3, 2, 0)]);
    let text = serde_json::to_string(&grey).unwrap();
    assert_eq!(serde_json::from_str::<PixelsTokenizer>(&text).unwrap(), grey);
    let bad = text.replace("\"levels\":17", "\"levels\":1");
    assert!(serde_json::from_str::<PixelsTokenizer>(&bad).unwrap_err().to_string().contains("levels must be 2 to 256"));
    let odd = text.replace("\"levels\":17", "\"levels\":17,\"palette\":[[0,0,0]]");
    assert!(serde_json::from_str::<PixelsTokenizer>(&odd).is_err());
}

#[test]
fn size_comes_from_the_config_or_the_first_image_and_others_are_resized() {
    let big = random_grey(10, 6, 0);
    let small = random_grey(5, 3, 1);
    let tok = fit_on(&PixelsConfig::default(), &[&big, &small]);
    assert_eq!((tok.width(), tok.height()), (10, 6));
    let doc = &tok.encode_bytes(&png_bytes(&small), "small.png").unwrap()[0];
    assert_eq!(doc.len(), 60 + 2);
    let sized = fit_on(&PixelsConfig { width: Some(4), ..Default::default() }, &[&big]);
    assert_eq!((sized.width(), sized.height()), (4, 6));
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "a.png", &small);
    let err =
        PixelsConfig { levels: 300, ..Default::default() }.build(std::slice::from_ref(&file)).unwrap_err().to_string();
    assert!(err.contains("levels must be 2 to 256, not 300"), "{err}");
    let err = PixelsConfig { scale: 0, ..Default::default() }.build(&[file]).unwrap_err().to_string();
    assert!(err.contains("scale must be 1 to 64, not 0"), "{err}");
}

#[test]
fn a_conditional_fit_needs_classes() {
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "a.png", &random_grey(2, 2, 0));
    let err = PixelsConfig { conditional: true, ..Default::default() }.build(&[file]).unwrap_err().to_string();
    assert!(err.contains("conditional = true needs classes"), "{err}");
}
