//! Images come back exactly when they sit on the quantization levels, else within half a step.

mod common;

use autoreg_pixels::image::{DynamicImage, GrayImage, RgbImage};
use autoreg_pixels::{Colors, PixelsConfig};
use autoreg_tokens::testing::Tokenize;
use common::*;

/// The 8-bit value of level `l` of `levels`.
fn on_level(l: u32, levels: u32) -> u8 {
    (l as f64 * 255.0 / (levels - 1) as f64).round() as u8
}

#[test]
fn grey_images_on_the_levels_come_back_exactly_and_others_within_half_a_step() {
    for levels in [2, 17, 256] {
        let config = PixelsConfig { levels, ..Default::default() };
        let noise = random_grey(9, 7, levels as u64);
        let tok = fit_on(&config, &[&noise]);
        assert_eq!((tok.width(), tok.height()), (9, 7));
        let docs = tok.encode_bytes(&png_bytes(&noise), "noise.png").unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].len(), 9 * 7 + 2);
        assert_eq!(tok.count_units(&docs[0]), 9 * 7);
        let back = load_png(&tok.decode_bytes(&docs[0]).unwrap()).to_luma8();
        let half_step = 255.0 / (levels - 1) as f64 / 2.0 + 0.5;
        for (a, b) in noise.to_luma8().pixels().zip(back.pixels()) {
            assert!((f64::from(a[0]) - f64::from(b[0])).abs() <= half_step, "{levels}: {a:?} -> {b:?}");
        }
        let exact =
            DynamicImage::ImageLuma8(GrayImage::from_fn(9, 7, |x, y| [on_level((x * 7 + y) % levels, levels)].into()));
        let doc = &tok.encode_bytes(&png_bytes(&exact), "exact.png").unwrap()[0];
        assert_eq!(load_png(&tok.decode_bytes(doc).unwrap()).to_luma8(), exact.to_luma8(), "{levels} levels");
    }
}

#[test]
fn rgb_sub_pixels_come_in_pixelcnn_order_and_round_trip() {
    let config = PixelsConfig { colors: Colors::Rgb, levels: 256, ..Default::default() };
    let image = random_rgb(5, 4, 1);
    let tok = fit_on(&config, &[&image]);
    let doc = &tok.encode_bytes(&png_bytes(&image), "rgb.png").unwrap()[0];
    // R, G, B of each pixel in raster order: with 256 levels, the tokens are the bytes.
    let bytes: Vec<u32> = image.to_rgb8().into_raw().into_iter().map(u32::from).collect();
    assert_eq!(&doc[1..doc.len() - 1], &bytes[..]);
    assert_eq!(tok.count_units(doc), 5 * 4 * 3);
    assert_eq!(load_png(&tok.decode_bytes(doc).unwrap()).to_rgb8(), image.to_rgb8());

    let coarse = fit_on(&PixelsConfig { levels: 5, ..config }, &[&image]);
    let doc = &coarse.encode_bytes(&png_bytes(&image), "rgb.png").unwrap()[0];
    let back = load_png(&coarse.decode_bytes(doc).unwrap()).to_rgb8();
    for (a, b) in image.to_rgb8().pixels().zip(back.pixels()) {
        for c in 0..3 {
            assert!((f64::from(a[c]) - f64::from(b[c])).abs() <= 255.0 / 4.0 / 2.0 + 0.5, "{a:?} -> {b:?}");
        }
    }
    let exact = DynamicImage::ImageRgb8(RgbImage::from_fn(5, 4, |x, y| {
        [on_level(x % 5, 5), on_level(y % 5, 5), on_level((x + y) % 5, 5)].into()
    }));
    let doc = &coarse.encode_bytes(&png_bytes(&exact), "exact.png").unwrap()[0];
    assert_eq!(load_png(&coarse.decode_bytes(doc).unwrap()).to_rgb8(), exact.to_rgb8());
}

#[test]
fn palette_pixels_come_back_as_their_nearest_palette_colour() {
    let config = PixelsConfig { colors: Colors::Palette, palette_size: 6, seed: 3, ..Default::default() };
    let image = random_rgb(12, 10, 2);
    let tok = fit_on(&config, &[&image]);
    let palette = tok.palette().to_vec();
    assert_eq!(palette.len(), 6);
    let doc = &tok.encode_bytes(&png_bytes(&image), "p.png").unwrap()[0];
    assert_eq!(doc.len(), 12 * 10 + 2);
    assert_eq!(tok.count_units(doc), 12 * 10 * 3);
    let back = load_png(&tok.decode_bytes(doc).unwrap()).to_rgb8();
    let dist = |a: [u8; 3], b: [u8; 3]| (0..3).map(|i| (i32::from(a[i]) - i32::from(b[i])).pow(2)).sum::<i32>();
    for (a, b) in image.to_rgb8().pixels().zip(back.pixels()) {
        let best = palette.iter().map(|&c| dist(a.0, c)).min().unwrap();
        assert!(palette.contains(&b.0), "{b:?} is not a palette colour");
        assert_eq!(dist(a.0, b.0), best, "{a:?} came back as {b:?}, not a nearest colour");
    }
    let only_palette =
        DynamicImage::ImageRgb8(RgbImage::from_fn(12, 10, |x, y| palette[((x + 3 * y) % 6) as usize].into()));
    let doc = &tok.encode_bytes(&png_bytes(&only_palette), "q.png").unwrap()[0];
    assert_eq!(load_png(&tok.decode_bytes(doc).unwrap()).to_rgb8(), only_palette.to_rgb8());
}

#[test]
fn in_memory_helpers_agree_with_the_png() {
    let config = PixelsConfig { levels: 17, ..Default::default() };
    let image = random_grey(6, 6, 9);
    let tok = fit_on(&config, &[&image]);
    let doc = tok.encode_image(&image, None, "mem").unwrap();
    assert_eq!(doc, tok.encode_bytes(&png_bytes(&image), "file").unwrap()[0]);
    let decoded = tok.decode_image(&doc).to_luma8();
    assert_eq!(decoded, load_png(&tok.decode_bytes(&doc).unwrap()).to_luma8());
    let values = tok.decode_pixels(&doc);
    assert_eq!(values.len(), 36);
    for (v, p) in values.iter().zip(decoded.pixels()) {
        assert_eq!((v * 255.0).round() as u8, p[0]);
    }
}
