//! Bad input gives a clear error that names the file.

mod common;

use autoreg_pixels::{PixelsConfig, PixelsTokenizer};
use autoreg_tokens::{Classes, Modality, ModalityBuilder, testing::Tokenize};
use common::*;
use std::path::{Path, PathBuf};

/// A 4x4 grey tokenizer that does not resize, and its temporary folder.
fn strict() -> (PixelsTokenizer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "ok.png", &random_grey(4, 4, 0));
    let config = PixelsConfig { resize: false, ..Default::default() };
    (config.build(&[file]).unwrap(), dir)
}

#[test]
fn a_corrupt_png_names_the_file() {
    let (tok, dir) = strict();
    let mut bytes = png_bytes(&random_grey(4, 4, 1));
    bytes.truncate(40);
    let path = dir.path().join("broken.png");
    std::fs::write(&path, &bytes).unwrap();
    let err = tok.encode_file(&path).unwrap_err().to_string();
    assert!(err.contains("broken.png") && err.contains("corrupt PNG image"), "{err}");
    // Garbage under a .png name is called a corrupt PNG too, not CSV.
    std::fs::write(&path, b"\x01\x02garbage").unwrap();
    let err = tok.encode_file(&path).unwrap_err().to_string();
    assert!(err.contains("broken.png") && err.contains("corrupt PNG image"), "{err}");
}

#[test]
fn a_wrong_idx_magic_number_names_the_file() {
    let (tok, dir) = strict();
    let mut bytes = vec![0, 0, 0x08, 0x04];
    [1u32, 4, 4, 1].iter().for_each(|d| bytes.extend(d.to_be_bytes()));
    bytes.extend([0u8; 16]);
    let path = dir.path().join("train-images-idx3-ubyte");
    std::fs::write(&path, &bytes).unwrap();
    let err = tok.encode_file(&path).unwrap_err().to_string();
    assert!(err.contains("train-images-idx3-ubyte") && err.contains("magic number 0x00000804"), "{err}");
}

#[test]
fn idx_labels_that_do_not_match_the_images_name_the_labels_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut images = 0x803u32.to_be_bytes().to_vec();
    [2u32, 2, 2].iter().for_each(|d| images.extend(d.to_be_bytes()));
    images.extend([0u8, 255, 0, 255, 255, 0, 255, 0]);
    let mut labels = 0x801u32.to_be_bytes().to_vec();
    labels.extend(3u32.to_be_bytes());
    labels.extend([1u8, 2, 3]);
    let path = dir.path().join("x-images-idx3-ubyte");
    std::fs::write(&path, &images).unwrap();
    std::fs::write(dir.path().join("x-labels-idx1-ubyte"), &labels).unwrap();
    let err = PixelsConfig::default().build(std::slice::from_ref(&path)).unwrap_err().to_string();
    assert!(err.contains("x-labels-idx1-ubyte") && err.contains("3 labels for 2 images"), "{err}");
    let tok = PixelsConfig::default().build(&[save(dir.path(), "ok.png", &random_grey(2, 2, 0))]).unwrap();
    let err = tok.encode_file(&path).unwrap_err().to_string();
    assert!(err.contains("x-labels-idx1-ubyte") && err.contains("3 labels for 2 images"), "{err}");
}

#[test]
fn an_empty_folder_or_one_without_images_cannot_be_fitted() {
    let err = PixelsConfig::default().build(&[]).unwrap_err().to_string();
    assert!(err.contains("none of the 0 data files"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.csv");
    std::fs::write(&notes, "just, some, words\n").unwrap();
    let err = PixelsConfig::default().build(&[notes]).unwrap_err().to_string();
    assert!(err.contains("notes.csv") && err.contains("readable image"), "{err}");
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nrest").unwrap();
    let err = PixelsConfig::default().build(&[broken]).unwrap_err().to_string();
    assert!(err.contains("broken.png: corrupt PNG image"), "{err}");
}

#[test]
fn an_image_of_another_size_is_refused_when_resizing_is_off() {
    let (tok, dir) = strict();
    let path = save(dir.path(), "wide.png", &random_grey(5, 4, 2));
    let err = tok.encode_file(&path).unwrap_err().to_string();
    assert!(err.contains("wide.png") && err.contains("is 5x4, not 4x4, and resize is off"), "{err}");
}

#[test]
fn a_prompt_of_the_wrong_size_is_refused() {
    let (tok, _dir) = strict();
    let bytes = png_bytes(&random_grey(3, 4, 3));
    let err = tok.prompt_bytes(&bytes, "prompt.png", Some(2.0)).unwrap_err().to_string();
    assert!(err.contains("prompt.png") && err.contains("is 3x4, not 4x4"), "{err}");
}

/// `cat/a.png` and `dog/a.png` in `dir`, and a conditional tokenizer fitted on them.
fn cat_and_dog(dir: &Path) -> (Vec<PathBuf>, PixelsTokenizer) {
    let files: Vec<PathBuf> =
        ["cat", "dog"].iter().map(|c| save(dir, &format!("{c}/a.png"), &random_grey(3, 3, 4))).collect();
    let tok = PixelsConfig { conditional: true, ..Default::default() }.build(&files).unwrap();
    (files, tok)
}

#[test]
fn a_class_out_of_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (files, tok) = cat_and_dog(dir.path());
    assert_eq!(tok.classes(), ["cat", "dog"]);
    assert_eq!(tok.class_prompt(1).unwrap(), vec![tok.specials().bos, 256 + 1]);
    let err = tok.class_prompt(2).unwrap_err().to_string();
    assert_eq!(err, "--class: class 2 is out of range: there are 2 classes (0..1)");
    let plain = PixelsConfig::default().build(&files).unwrap();
    assert!(plain.class_prompt(0).unwrap_err().to_string().contains("not conditional"));
}

#[test]
fn csv_values_above_max_value_and_bad_gzip_name_the_file() {
    let (tok, dir) = strict();
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, "0,1,2,300,5\n").unwrap();
    let err = tok.encode_file(&path).unwrap_err().to_string();
    assert!(err.contains("rows.csv") && err.contains("value 300 in row 1 is above max_value 255"), "{err}");
    let gz = dir.path().join("rows.csv.gz");
    std::fs::write(&gz, b"\x1f\x8bnot really gzip").unwrap();
    let err = tok.encode_file(&gz).unwrap_err().to_string();
    assert!(err.contains("rows.csv.gz") && err.contains("not valid gzip"), "{err}");
}

#[test]
fn class_token_is_the_prefix_that_training_windows_keep() {
    let dir = tempfile::tempdir().unwrap();
    let (files, tok) = cat_and_dog(dir.path());
    assert_eq!(Classes::ids(&tok), 256..258);
    let doc = &tok.encode_file(&files[1]).unwrap()[0];
    assert_eq!(&doc[..2], [tok.specials().bos, 257]);
    assert_eq!(tok.prefix_len(doc), 2, "BOS Class_dog");
    let plain = PixelsConfig::default().build(&files).unwrap();
    assert_eq!(plain.prefix_len(&plain.encode_file(&files[1]).unwrap()[0]), 1);
}
