//! The shared data sets: sklearn's 8x8 digits (CSV) and the MNIST test set (IDX).

mod common;

use autoreg_pixels::{PixelsConfig, PixelsTokenizer};
use autoreg_tokens::{Modality, ModalityBuilder, testing::Tokenize};
use common::*;
use std::io::Read;
use std::path::Path;

/// The inflated bytes of a gzip file.
fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
    out
}

#[test]
fn all_digits_rows_parse_with_17_levels_and_round_trip_exactly() {
    let path = data_file("digits/digits.csv.gz");
    let config = PixelsConfig { levels: 17, conditional: true, ..Default::default() };
    let tok = config.build(std::slice::from_ref(&path)).unwrap();
    assert_eq!((tok.width(), tok.height()), (8, 8));
    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    assert_eq!(tok.classes(), digits);
    assert_eq!(tok.vocab_size(), 17 + 10 + 3);

    let text = String::from_utf8(gunzip(&path)).unwrap();
    let rows: Vec<Vec<u32>> =
        text.lines().map(|l| l.split(',').map(|f| f.trim().parse::<u32>().unwrap()).collect()).collect();
    let docs = tok.encode_file(&path).unwrap();
    assert_eq!((docs.len(), rows.len()), (1797, 1797));
    for (doc, row) in docs.iter().zip(&rows) {
        let (pixels, label) = row.split_at(64);
        assert_eq!(doc.len(), 1 + 1 + 64 + 1);
        assert_eq!(tok.class_of(doc), Some(label[0] as usize));
        // 17 levels over 0..=16: the tokens are the values themselves.
        assert_eq!(&doc[2..66], pixels);
        let image = load_png(&tok.decode_bytes(doc).unwrap());
        assert_eq!(tok.encode_image(&image, tok.class_of(doc), "decoded").unwrap(), *doc);
        let values = tok.decode_pixels(doc);
        assert!(values.iter().zip(pixels).all(|(v, &p)| (v - p as f32 / 16.0).abs() < 1e-6));
    }
}

#[test]
fn the_mnist_test_set_gives_10000_labelled_documents() {
    let images = data_file("mnist-test/t10k-images-idx3-ubyte.gz");
    let labels = data_file("mnist-test/t10k-labels-idx1-ubyte.gz");
    let config = PixelsConfig { conditional: true, ..Default::default() };
    let tok: PixelsTokenizer = config.build(&[images.clone(), labels.clone()]).unwrap();
    assert_eq!((tok.width(), tok.height(), tok.levels()), (28, 28, Some(256)));
    assert_eq!(tok.classes().len(), 10);

    let docs = tok.encode_file(&images).unwrap();
    assert_eq!(docs.len(), 10_000);
    assert_eq!(tok.companion_inputs(&images), std::slice::from_ref(&labels), "the labels key the data cache");
    assert!(tok.companion_inputs(&labels).is_empty());
    assert!(tok.encode_file(&labels).unwrap().is_empty(), "a labels file holds no documents");
    let raw_images = gunzip(&images);
    let raw_labels = gunzip(&labels);
    for (i, doc) in docs.iter().enumerate() {
        assert_eq!(doc.len(), 28 * 28 + 3);
        assert_eq!(tok.class_of(doc), Some(raw_labels[8 + i] as usize), "image {i}");
        let pixels = &raw_images[16 + i * 784..16 + (i + 1) * 784];
        assert!(doc[2..786].iter().zip(pixels).all(|(&t, &p)| t == u32::from(p)), "image {i}");
        assert_eq!(tok.count_units(doc), 784);
    }

    // Without the labels file beside it, the images encode unconditionally only.
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("t10k-images-idx3-ubyte.gz");
    std::fs::copy(&images, &alone).unwrap();
    let plain = PixelsConfig::default().build(std::slice::from_ref(&alone)).unwrap();
    assert_eq!(plain.encode_file(&alone).unwrap()[0][1..785], docs[0][2..786]);
    let err = tok.encode_file(&alone).unwrap_err().to_string();
    assert!(err.contains("t10k-images-idx3-ubyte.gz") && err.contains("has no class"), "{err}");
}

#[test]
fn mnist_resized_and_binarized_keeps_its_shape() {
    let images = data_file("mnist-test/t10k-images-idx3-ubyte.gz");
    let config = PixelsConfig { width: Some(14), height: Some(14), levels: 2, ..Default::default() };
    let tok = config.build(std::slice::from_ref(&images)).unwrap();
    let docs = tok.encode_file(&images).unwrap();
    assert_eq!(docs.len(), 10_000);
    assert!(docs.iter().all(|d| d.len() == 14 * 14 + 2 && d[1..197].iter().all(|&t| t < 2)));
    // A digit has ink: some pixels on, most off.
    let on: usize = docs[0][1..197].iter().filter(|&&t| t == 1).count();
    assert!((5..100).contains(&on), "{on} pixels on");
}
