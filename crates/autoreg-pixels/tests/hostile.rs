//! Hostile and broken inputs (image bombs, odd CSV rows, bad IDX headers, cut and
//! mutated files): always an error naming the file, never a panic or an abort.

mod common;

use autoreg_pixels::{PixelsConfig, PixelsTokenizer};
use autoreg_tokens::{ModalityBuilder, testing::Tokenize};
use common::*;
use std::path::Path;

/// A 4x4 grey tokenizer that resizes, and a temporary folder.
fn tokenizer() -> (PixelsTokenizer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tok = PixelsConfig::default().build(&[save(dir.path(), "fit.png", &random_grey(4, 4, 0))]).unwrap();
    (tok, dir)
}

/// Encodes `bytes` written to `dir/name`: the documents, or the error, which must
/// start with the file's path.
fn encode(tok: &PixelsTokenizer, dir: &Path, name: &str, bytes: &[u8]) -> Result<usize, String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    tok.encode_file(&path).map(|docs| docs.len()).map_err(|e| {
        let e = e.to_string();
        assert!(e.starts_with(&path.display().to_string()), "{name}: {e}");
        e
    })
}

/// A 1x1 PNG whose header claims `width` x `height`, with a valid checksum.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png_bytes(&random_grey(1, 1, 0));
    assert_eq!(&bytes[12..16], b"IHDR");
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    bytes
}

/// A GIF whose logical screen is `width` x `height`, holding one 1x1 frame.
fn gif_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut b = b"GIF89a".to_vec();
    b.extend(width.to_le_bytes());
    b.extend(height.to_le_bytes());
    b.extend([0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
    b.extend([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3b]);
    b
}

/// A 24-bit BMP header claiming `width` x `height`, with no pixels.
fn bmp_claiming(width: i32, height: i32) -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.extend(54u32.to_le_bytes());
    b.extend([0; 4]);
    b.extend(54u32.to_le_bytes());
    b.extend(40u32.to_le_bytes());
    b.extend(width.to_le_bytes());
    b.extend(height.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(24u16.to_le_bytes());
    b.extend([0; 24]);
    b
}

#[test]
fn image_bombs_are_refused_from_their_headers() {
    let (tok, dir) = tokenizer();
    let limit = "more than the 33554432 an input image may have";
    let err = encode(&tok, dir.path(), "bomb.png", &png_claiming(100_000, 100_000)).unwrap_err();
    assert!(err.contains(&format!("image is 100000x100000 pixels, {limit}")), "{err}");
    let err = encode(&tok, dir.path(), "bomb.gif", &gif_claiming(65_535, 65_535)).unwrap_err();
    assert!(err.contains(&format!("image is 65535x65535 pixels, {limit}")), "{err}");
    let err = encode(&tok, dir.path(), "bomb.bmp", &bmp_claiming(40_000, -40_000)).unwrap_err();
    assert!(err.contains(&format!("image is 40000x40000 pixels, {limit}")), "{err}");
    // Images of no pixels are refused too (the image crate would decode a GIF's).
    let err = encode(&tok, dir.path(), "empty.gif", &gif_claiming(0, 0)).unwrap_err();
    assert!(err.ends_with("empty.gif: image is 0x0 pixels: it holds nothing"), "{err}");
    // Each builder is sound: a small claim decodes (the GIF) or fails as corrupt data.
    assert_eq!(encode(&tok, dir.path(), "small.gif", &gif_claiming(1, 1)), Ok(1));
    let err = encode(&tok, dir.path(), "small.png", &png_claiming(2, 2)).unwrap_err();
    assert!(err.contains("corrupt PNG image"), "{err}");
    let err = encode(&tok, dir.path(), "small.bmp", &bmp_claiming(2, 2)).unwrap_err();
    assert!(err.contains("corrupt BMP image"), "{err}");
    // Fitting reports the bomb too, as the reason no image was usable.
    let err = PixelsConfig::default().build(&[dir.path().join("bomb.png")]).unwrap_err().to_string();
    assert!(err.contains("bomb.png: image is 100000x100000 pixels"), "{err}");
}

#[test]
fn every_cut_and_single_byte_change_of_a_png_is_handled() {
    let (tok, dir) = tokenizer();
    let good = png_bytes(&random_rgb(3, 2, 1));
    // Named .png, even a few bytes are a corrupt PNG, not CSV; only (part of) the
    // closing IEND chunk, 12 bytes, may be missing.
    let iend = good.len() - 12;
    assert_eq!(&good[iend + 4..iend + 8], b"IEND");
    for len in 0..good.len() {
        match encode(&tok, dir.path(), "cut.png", &good[..len]) {
            Err(e) => assert!(e.contains("corrupt PNG image"), "{len} bytes: {e}"),
            Ok(docs) => assert!(len >= iend && docs == 1, "{len} bytes"),
        }
    }
    let mut refused = 0;
    for position in 0..good.len() {
        let mut bytes = good.clone();
        bytes[position] ^= 0x5a;
        refused += usize::from(encode(&tok, dir.path(), "mutant.png", &bytes).is_err());
    }
    assert!(refused > good.len() / 2, "{refused} of {} changes refused", good.len());
}

#[test]
fn csv_rows_of_the_wrong_length_or_not_numbers_are_refused_naming_the_line() {
    let (tok, dir) = tokenizer();
    for (i, (text, reason)) in [
        ("0,1,2,3,4\n0,1,2,3,4,5,6,7,8,9\n", "CSV line 2: 9 pixel values, the first row has 4"),
        ("0,1,2,3,4\n0,1,2\n", "CSV line 2: 2 pixel values do not make a square image"),
        ("0,1,2,3,4,5,6\n", "CSV line 1: 6 pixel values do not make a square image"),
        ("0,1,x,3,4\n", "CSV line 1: field 3 (\"x\")"),
        ("NaN,1,2,3,4\n", "field 1 (\"NaN\") is not a pixel value"),
        ("0,inf,2,3,4\n", "field 2 (\"inf\")"),
        ("0,1,1e400,3,4\n", "field 3 (\"1e400\")"),
        ("0,1,-2,3,4\n", "field 3 (\"-2\")"),
        ("0,1,2,1000,4\n", "value 1000 in row 1 is above max_value 255"),
        ("7\n", "CSV line 1: a row needs pixel values and a trailing label"),
        ("0,1,2,3,4\n0,1,2,3,4,x\n", "CSV line 2"),
        ("\u{feff}0,1,2,3,4\n0,1,2,3,4\n", "field 1"),
    ]
    .into_iter()
    .enumerate()
    {
        let err = encode(&tok, dir.path(), &format!("rows{i}.csv"), text.as_bytes()).unwrap_err();
        assert!(err.contains(reason), "{text:?}: {err}");
    }
    for (text, docs) in [("p0,p1,p2,p3,label\n", 0), (",,,,\n\n", 0), ("1,2,3,4,\n", 1), ("0, 1 ,2,3 , a b\n", 1)] {
        assert_eq!(encode(&tok, dir.path(), "odd.csv", text.as_bytes()), Ok(docs), "{text:?}");
    }
    let err = encode(&tok, dir.path(), "binary.csv", b"\xff\xfe\x00garbage").unwrap_err();
    assert!(err.contains("nor UTF-8 CSV rows"), "{err}");
    // An empty label is no class: fitting skips it, encoding for classes refuses it.
    let labelled = dir.path().join("labelled.csv");
    std::fs::write(&labelled, "0,1,2,3,a\n1,2,3,4,\n").unwrap();
    let conditional = PixelsConfig { conditional: true, ..Default::default() };
    let tok = conditional.build(std::slice::from_ref(&labelled)).unwrap();
    assert_eq!(tok.classes(), ["a"]);
    let err = tok.encode_file(&labelled).unwrap_err().to_string();
    assert!(err.contains("labelled.csv: image 1 has no class, which a conditional tokenizer needs"), "{err}");
}

#[test]
fn random_csv_like_text_never_panics() {
    let (tok, dir) = tokenizer();
    let alphabet = b"0123456789,,,..-e\n\n x";
    let mut state = 7u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut read = 0;
    for _ in 0..400 {
        let len = next() % 60;
        let text: Vec<u8> = (0..len).map(|_| alphabet[next() % alphabet.len()]).collect();
        read += usize::from(encode(&tok, dir.path(), "random.csv", &text).is_ok());
    }
    assert!(read > 0, "nothing was read");
}

/// An IDX file: `magic`, then `dims`, then `body`.
fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
    bytes.extend(body);
    bytes
}

#[test]
fn idx_headers_that_lie_are_refused() {
    let (tok, dir) = tokenizer();
    let name = "x-images-idx3-ubyte";
    for (bytes, reason) in [
        (idx(0x0803, &[u32::MAX; 3], &[]), "16 bytes long, its header promises 79228162458924105385300197391"),
        (idx(0x0803, &[0, 65_536, 65_536], &[]), "image is 65536x65536 pixels, more than the 33554432"),
        (idx(0x0803, &[2, 0, 5], &[]), "image is 5x0 pixels: it holds nothing"),
        (idx(0x0803, &[0, 0, 0], &[]), "image is 0x0 pixels: it holds nothing"),
        (idx(0x0803, &[1, 2, 2], &[0; 3]), "19 bytes long, its header promises 20"),
        (idx(0x0803, &[1, 2], &[]), "12 bytes long, its header promises 16"),
        (idx(0x0804, &[1, 2, 2], &[0; 4]), "magic number 0x00000804"),
        (idx(0x0801, &[u32::MAX], &[1]), "promises 4294967303"),
    ] {
        let err = encode(&tok, dir.path(), name, &bytes).unwrap_err();
        assert!(err.contains(reason), "{err}");
    }
    assert_eq!(encode(&tok, dir.path(), name, &idx(0x0803, &[0, 2, 2], &[])), Ok(0));
    let good = idx(0x0803, &[2, 3, 3], &[9; 18]);
    assert_eq!(encode(&tok, dir.path(), name, &good), Ok(2));
    for len in 4..good.len() {
        let err = encode(&tok, dir.path(), name, &good[..len]).unwrap_err();
        assert!(err.contains("IDX file is"), "{len} bytes: {err}");
    }
    // Labels beside that are not labels, or lie about their count, name the labels file.
    std::fs::write(dir.path().join(name), &good).unwrap();
    let labels = dir.path().join("x-labels-idx1-ubyte");
    for (bytes, reason) in [
        (idx(0x0801, &[5], &[0; 4]), "IDX file is 12 bytes long, its header promises 13"),
        (idx(0x0801, &[3], &[0; 3]), "3 labels for 2 images"),
        (idx(0x0803, &[2, 1, 1], &[0; 2]), "an IDX images file where the labels file belongs"),
    ] {
        std::fs::write(&labels, bytes).unwrap();
        let err = tok.encode_file(&dir.path().join(name)).unwrap_err().to_string();
        assert_eq!(err, format!("{}: {reason}", labels.display()));
    }
}
