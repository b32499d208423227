//! The other files that encoding a file reads: the IDX labels beside IDX images.

mod common;

use autoreg_pixels::PixelsConfig;
use autoreg_tokens::{ModalityBuilder, testing::Tokenize};
use common::*;
use std::io::Write;

/// `bytes` compressed with gzip.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn idx_images_name_the_labels_file_that_encoding_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tok = PixelsConfig::default().build(&[save(d, "plain.png", &random_grey(2, 2, 0))]).unwrap();
    let mut images = 0x803u32.to_be_bytes().to_vec();
    [1u32, 2, 2].iter().for_each(|n| images.extend(n.to_be_bytes()));
    images.extend([0, 1, 2, 3]);
    let mut labels = 0x801u32.to_be_bytes().to_vec();
    labels.extend(1u32.to_be_bytes());
    labels.push(7);

    // Plain images files and the labels file itself read nothing else.
    assert!(tok.companion_inputs(&d.join("plain.png")).is_empty());
    std::fs::write(d.join("a-images-idx3-ubyte"), &images).unwrap();
    assert!(tok.companion_inputs(&d.join("a-images-idx3-ubyte")).is_empty(), "no labels beside yet");
    std::fs::write(d.join("a-labels-idx1-ubyte.gz"), gzip(&labels)).unwrap();
    assert_eq!(tok.companion_inputs(&d.join("a-images-idx3-ubyte")), [d.join("a-labels-idx1-ubyte.gz")]);
    assert!(tok.companion_inputs(&d.join("a-labels-idx1-ubyte.gz")).is_empty());
    // Encoding does read it: a labels file that does not fit makes encoding fail.
    std::fs::write(d.join("a-labels-idx1-ubyte.gz"), gzip(&labels[..8])).unwrap();
    let err = tok.encode_file(&d.join("a-images-idx3-ubyte")).unwrap_err().to_string();
    assert!(err.contains("a-labels-idx1-ubyte.gz: IDX file is 8 bytes long"), "{err}");

    // Gzip images, and labels not compressed.
    std::fs::write(d.join("b-images-idx3-ubyte.gz"), gzip(&images)).unwrap();
    std::fs::write(d.join("b-labels-idx1-ubyte"), &labels).unwrap();
    assert_eq!(tok.companion_inputs(&d.join("b-images-idx3-ubyte.gz")), [d.join("b-labels-idx1-ubyte")]);

    // A file named like IDX images that holds something else is read alone.
    save(d, "c-images-idx3.png", &random_grey(2, 2, 1));
    std::fs::write(d.join("c-labels-idx1.png"), &labels).unwrap();
    assert!(tok.companion_inputs(&d.join("c-images-idx3.png")).is_empty());
    assert_eq!(tok.encode_file(&d.join("c-images-idx3.png")).unwrap().len(), 1);
    // So is one that cannot be read.
    assert!(tok.companion_inputs(&d.join("missing-images-idx3-ubyte")).is_empty());
}
