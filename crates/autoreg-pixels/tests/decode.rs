//! Lenient decoding, enlarged output, prompts and the overview grid.

mod common;

use autoreg_pixels::{Colors, PixelsConfig, PixelsTokenizer};
use autoreg_tokens::{Modality, ModalityBuilder, Source, TokenError, testing::Tokenize};
use common::*;
use std::path::{Path, PathBuf};

/// A conditional 4x3 grey tokenizer with 17 levels, classes `a` and `b`, images enlarged 3 times.
fn conditional() -> (PixelsTokenizer, Vec<PathBuf>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, c)| save(dir.path(), &format!("{c}/x.png"), &random_grey(4, 3, i as u64)))
        .collect();
    let config = PixelsConfig { levels: 17, conditional: true, scale: 3, ..Default::default() };
    (config.build(&files).unwrap(), files, dir)
}

#[test]
fn decoding_pads_crops_and_skips_stray_class_tokens() {
    let (tok, _, _dir) = conditional();
    let s = tok.specials();
    let (class_a, class_b) = (17, 18);
    assert_eq!(tok.token_name(class_b).as_deref(), Some("Class_b"));
    // Too short: the rest is black. A class token in the middle is skipped.
    let short = tok.decode_pixels(&[s.bos, class_a, 16, class_b, 8]);
    assert_eq!(short.len(), 12);
    assert_eq!(&short[..2], &[1.0, 0.5]);
    assert!(short[2..].iter().all(|&v| v == 0.0));
    // Too long: cut to the image; decoding stops at EOS.
    let long: Vec<u32> = std::iter::repeat_n(16, 20).chain([s.eos, 0]).collect();
    assert!(tok.decode_pixels(&long).iter().all(|&v| v == 1.0));
    let stopped = tok.decode_pixels(&[4, s.eos, 16, 16]);
    assert!(stopped[0] == 0.25 && stopped[1..].iter().all(|&v| v == 0.0));
    // An id outside the vocabulary is dropped, and counted as a repair.
    let identity = autoreg_tokens::Identity { vocab_size: tok.vocab_size() };
    let pipeline = autoreg_tokens::Pipeline::new(&tok, &identity);
    let decoded = pipeline.decode(&[s.bos, tok.vocab_size() as u32, 16]).unwrap();
    assert_eq!(decoded.repairs, 1);
    assert_eq!(decoded.bytes, tok.decode_bytes(&[s.bos, 16]).unwrap());
}

#[test]
fn decoded_files_are_enlarged_png_written_atomically() {
    let (tok, files, dir) = conditional();
    let doc = &tok.encode_file(&files[1]).unwrap()[0];
    assert_eq!(tok.class_of(doc), Some(1));
    let out = dir.path().join("sample.png");
    tok.decode_to_file(doc, &out).unwrap();
    let big = autoreg_pixels::image::open(&out).unwrap().to_luma8();
    let small = tok.decode_image(doc).to_luma8();
    assert_eq!(big.dimensions(), (12, 9));
    assert!(big.enumerate_pixels().all(|(x, y, p)| *p == *small.get_pixel(x / 3, y / 3)));
    assert_eq!(tok.decode(&[]).unwrap().extension, "png");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().path().is_file()).count(), 1);
}

/// The prompt ids of the image `bytes` called `name`, of class `label`, cut to `length` rows.
fn prompt_of(
    tok: &PixelsTokenizer,
    bytes: &[u8],
    name: &str,
    label: Option<&str>,
    length: Option<f64>,
) -> Result<Vec<u32>, TokenError> {
    let prompts = tok.extras().prompts.expect("pixels prompts");
    prompts.prompt(&Source { path: Path::new(name), bytes, label }, length)
}

#[test]
fn prompts_keep_the_class_given_and_the_top_rows() {
    let (tok, files, dir) = conditional();
    let doc = &tok.encode_file(&files[0]).unwrap()[0];
    let bytes = std::fs::read(&files[0]).unwrap();
    let name = files[0].display().to_string();
    let whole = prompt_of(&tok, &bytes, &name, Some("a"), None).unwrap();
    assert_eq!(whole, doc[..doc.len() - 1]);
    for rows in 0..=3 {
        let cut = prompt_of(&tok, &bytes, &name, Some("a"), Some(f64::from(rows))).unwrap();
        assert_eq!(cut, doc[..2 + 4 * rows as usize], "{rows} rows");
    }
    let err = prompt_of(&tok, &bytes, &name, Some("a"), Some(4.0)).unwrap_err().to_string();
    assert!(err.contains("cannot keep 4 rows of an image 3 rows high"), "{err}");
    let err = prompt_of(&tok, &bytes, &name, Some("a"), Some(1.5)).unwrap_err().to_string();
    assert!(err.contains("cannot keep 1.5 rows"), "{err}");
    // The class given wins over the folder's (a/x.png as class b); a class that is not
    // one of the tokenizer's is refused.
    let as_b = prompt_of(&tok, &bytes, &name, Some("b"), None).unwrap();
    assert_eq!((as_b[1], &as_b[2..]), (18, &doc[2..doc.len() - 1]));
    let err = prompt_of(&tok, &bytes, &name, Some("c"), None).unwrap_err().to_string();
    assert!(err.contains("x.png") && err.contains("class \"c\""), "{err}");
    // Without a class, a conditional tokenizer refuses a prompt, even in a class folder:
    // a prompt's class is never its folder's.
    for path in [name.clone(), save(dir.path(), "elsewhere/p.png", &random_grey(4, 3, 5)).display().to_string()] {
        let err = tok.prompt_bytes(&bytes, &path, None).unwrap_err().to_string();
        assert!(err.contains(&path) && err.contains("class-conditional") && err.contains("--class"), "{err}");
    }
    let err = tok.encode_bytes(&bytes, "in memory").unwrap_err().to_string();
    assert!(err.contains("in memory: image 0 has no class"), "{err}");
}

#[test]
fn a_decoded_sample_used_as_a_prompt_gives_back_its_tokens() {
    // Decoded samples are enlarged `scale` times; as a prompt they are shrunk back exactly,
    // with resizing on (where a filter would blur them) and off (where the size was refused).
    for resize in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, c)| save(dir.path(), &format!("{c}/x.png"), &random_rgb(4, 3, 7 + i as u64)))
            .collect();
        for colors in [Colors::Grey, Colors::Rgb, Colors::Palette] {
            let config = PixelsConfig {
                levels: 17,
                colors,
                palette_size: 6,
                conditional: true,
                resize,
                scale: 3,
                ..Default::default()
            };
            let tok = config.build(&files).unwrap();
            let doc = &tok.encode_file(&files[1]).unwrap()[0];
            let sample = dir.path().join("b/sample.png");
            tok.decode_to_file(doc, &sample).unwrap();
            let bytes = std::fs::read(&sample).unwrap();
            let name = sample.display().to_string();
            let whole = prompt_of(&tok, &bytes, &name, Some("b"), None).unwrap();
            assert_eq!(whole, doc[..doc.len() - 1], "{colors:?}, resize {resize}");
            let per_row = doc.len() / 3 - 1;
            let cut = prompt_of(&tok, &bytes, &name, Some("b"), Some(2.0)).unwrap();
            assert_eq!(cut, doc[..2 + 2 * per_row], "{colors:?}, resize {resize}");
        }
    }
}

#[test]
fn the_overview_is_a_grid_with_one_pixel_gaps() {
    let (tok, files, dir) = conditional();
    let docs: Vec<Vec<u32>> = files.iter().map(|f| tok.encode_file(f).unwrap().remove(0)).collect();
    let rows = vec![vec![docs[0].clone(), docs[1].clone(), docs[0].clone()], vec![docs[1].clone()]];
    let out = dir.path().join("overview.png");
    assert!(tok.write_overview(&rows, &out).unwrap());
    let grid = autoreg_pixels::image::open(&out).unwrap().to_rgb8();
    assert_eq!(grid.dimensions(), (3 * 13 - 1, 2 * 10 - 1));
    for (r, row) in rows.iter().enumerate() {
        for (c, doc) in row.iter().enumerate() {
            let small = tok.decode_image(doc).to_luma8();
            for (x, y, p) in small.enumerate_pixels() {
                let g = grid.get_pixel(c as u32 * 13 + x * 3 + 1, r as u32 * 10 + y * 3 + 2);
                assert_eq!(g.0, [p[0]; 3], "row {r} column {c} pixel {x},{y}");
            }
        }
    }
    assert_eq!(grid.get_pixel(12, 0).0, [128; 3], "gap between columns");
    assert_eq!(grid.get_pixel(0, 9).0, [128; 3], "gap between rows");
    let err = tok.write_overview(&[], &out).unwrap_err().to_string();
    assert!(err.contains("overview.png") && err.contains("no samples"), "{err}");
}

#[test]
fn rgb_token_names_and_vocabulary() {
    let tok = fit_on(&PixelsConfig { colors: Colors::Rgb, levels: 4, ..Default::default() }, &[&random_rgb(2, 2, 0)]);
    assert_eq!(tok.vocab_size(), 4 + 3);
    assert_eq!(tok.token_name(3).as_deref(), Some("Level_3"));
    assert_eq!(tok.token_name(4).as_deref(), Some("<bos>"));
    assert_eq!(tok.token_name(7), None);
    assert_eq!(tok.unit(), Some("dim"));
    assert!(tok.classes().is_empty());
}

#[test]
fn fill_in_the_middle_cuts_images_on_rows_from_the_first_pixel() {
    let (tok, files, _dir) = conditional();
    let identity = autoreg_tokens::Identity { vocab_size: tok.vocab_size() };
    let pipeline = autoreg_tokens::Pipeline::new(&tok, &identity);
    let bytes = std::fs::read(&files[0]).unwrap();
    let doc = tok.encode(&Source { path: &files[0], bytes: &bytes, label: Some("a") }).unwrap().remove(0);
    // BOS Class_a, then 3 rows of 4 pixels, then EOS: a boundary before each row and at EOS.
    assert_eq!(pipeline.span_unit(), Some("row"));
    assert_eq!(pipeline.unit_bounds(&doc), [2, 6, 10, 14]);
    assert_eq!(pipeline.unit_cuts(&doc[..9], true), [2, 6]);
    // Rows count from the document's start: a window from inside an image has none.
    assert_eq!(pipeline.unit_cuts(&doc[5..], false), Vec::<usize>::new());
    let cut = pipeline.infill_cut(&doc, 2, 3).unwrap();
    assert_eq!((cut.head, cut.a, cut.b), (2, 6, 14));
}
