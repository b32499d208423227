//! IDX files (MNIST): unsigned-byte images (magic 0x00000803) and labels (0x00000801).

use crate::error::InputError;
use std::path::{Path, PathBuf};

/// The magic number of an IDX file of unsigned-byte images.
pub(crate) const IMAGES_MAGIC: u32 = 0x0803;
/// The magic number of an IDX file of unsigned-byte labels.
const LABELS_MAGIC: u32 = 0x0801;

/// The contents of an IDX file.
pub(crate) enum Idx<'a> {
    /// `count` grey images of `rows` x `cols`, one byte per pixel, raster order.
    Images {
        /// Number of images.
        count: usize,
        /// Rows (height) of each image.
        rows: u32,
        /// Columns (width) of each image.
        cols: u32,
        /// `count * rows * cols` pixel bytes.
        pixels: &'a [u8],
    },
    /// One label byte per image.
    Labels(&'a [u8]),
}

/// Whether `bytes` start like an IDX file (two zero bytes, then type and rank).
pub(crate) fn looks_like_idx(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes[0] == 0 && bytes[1] == 0
}

/// Parses an IDX images or labels file, checking its magic number and length.
pub(crate) fn parse(bytes: &[u8]) -> Result<Idx<'_>, InputError> {
    let word = |i: usize| -> Option<u32> { Some(u32::from_be_bytes(bytes.get(4 * i..4 * i + 4)?.try_into().ok()?)) };
    let short = |expected: usize| InputError::IdxLength { actual: bytes.len(), expected: expected as u128 };
    let magic = word(0).ok_or(short(4))?;
    let rank = match magic {
        IMAGES_MAGIC => 3,
        LABELS_MAGIC => 1,
        _ => return Err(InputError::IdxMagic { magic }),
    };
    let header = 4 * (1 + rank);
    let dims: Vec<u32> = (1..=rank).map(|i| word(i).ok_or(short(header))).collect::<Result<_, _>>()?;
    // Up to 2^96 bytes: u128 holds the product of three u32 dimensions.
    let expected = header as u128 + dims.iter().map(|&d| u128::from(d)).product::<u128>();
    if bytes.len() as u128 != expected {
        return Err(InputError::IdxLength { actual: bytes.len(), expected });
    }
    let data = &bytes[header..];
    Ok(match dims[..] {
        [count, rows, cols] => Idx::Images { count: count as usize, rows, cols, pixels: data },
        _ => Idx::Labels(data),
    })
}

/// The labels file beside an images file, named as MNIST names it
/// (`t10k-images-idx3-ubyte.gz` -> `t10k-labels-idx1-ubyte.gz`, gzip or not).
pub(crate) fn labels_beside(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    let labels = stem.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1");
    if labels == stem {
        return None;
    }
    [format!("{labels}.gz"), labels].into_iter().map(|n| images.with_file_name(n)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend(body);
        bytes
    }

    #[test]
    fn parses_images_and_labels() {
        let bytes = idx(0x803, &[2, 1, 3], &[1, 2, 3, 4, 5, 6]);
        let Ok(Idx::Images { count, rows, cols, pixels }) = parse(&bytes) else { panic!("not images") };
        assert_eq!((count, rows, cols, pixels), (2, 1, 3, &[1, 2, 3, 4, 5, 6][..]));
        let bytes = idx(0x801, &[3], &[7, 8, 9]);
        assert!(matches!(parse(&bytes), Ok(Idx::Labels(&[7, 8, 9]))));
    }

    #[test]
    fn rejects_a_wrong_magic_and_a_wrong_length() {
        let err = parse(&idx(0x903, &[1, 1, 1], &[0])).err().unwrap().to_string();
        assert!(err.contains("0x00000903"), "{err}");
        let err = parse(&idx(0x803, &[2, 2, 2], &[0; 7])).err().unwrap().to_string();
        assert!(err.contains("23 bytes long"), "{err}");
        assert!(err.contains("promises 24"), "{err}");
    }

    #[test]
    fn finds_the_labels_file_beside() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("t10k-images-idx3-ubyte.gz");
        assert_eq!(labels_beside(&images), None);
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), b"").unwrap();
        assert_eq!(labels_beside(&images), Some(dir.path().join("t10k-labels-idx1-ubyte")));
        assert_eq!(labels_beside(&dir.path().join("other.gz")), None);
    }
}
