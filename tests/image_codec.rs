//! Learned image codes end to end through the `autoreg` binary: a tiny image codec
//! trained inside a class-conditional run of the carried 8x8 digits, which samples PNGs
//! (from a class, and from the top rows of a prompt), evaluates and refuses a changed
//! codec file; one inside a class-conditional video run of labelled Moving MNIST clips,
//! which samples GIFs over codes; and one inside a mixed run, text → image.

use crate::common::{Scratch, autoreg, fails, ok, png_size, shared_data, tiny_config};
use autoreg::SavedTokenizer;
use autoreg::pixels::image::{self, AnimationDecoder};
use std::path::Path;

/// `[tokenizer.codec]` of an image codec that trains in a second.
const TINY_CODEC: &str =
    "[tokenizer.codec]\ncodebook_size = 16\ncode_dim = 4\nchannels = 8\nsteps = 20\nbatch_size = 8\n";

/// The frames of a GIF, as 8-bit grey.
fn gif_frames(path: &Path) -> Vec<image::GrayImage> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    decoder.into_frames().map(|f| image::DynamicImage::ImageRgba8(f.unwrap().into_buffer()).to_luma8()).collect()
}

#[test]
fn an_image_codec_serves_a_class_conditional_run() {
    let s = Scratch::new();
    let csv = shared_data("digits/digits.csv.gz");
    let root = csv.parent().unwrap().parent().unwrap();
    let data = "path = \"digits/digits.csv.gz\"\nsplit = \"documents\"\nval_fraction = 0.1\nwindows = \"documents\"";
    let tokenizer = format!(
        "kind = \"pixels\"\ncolors = \"grey\"\nlevels = 17\nconditional = true\nscale = 4\n\n{TINY_CODEC}downsample = 2\n"
    );
    // BOS Class_k, 4x4 codes and EOS.
    let cfg = tiny_config(s.path(), root, "vq", data, &tokenizer, 18, "[sample]\nnum = 2\nmax_tokens = 17\n");
    let c = cfg.to_str().unwrap();
    let out = ok(s.path(), &["train", c]);
    assert!(out.contains("step 20"), "{out}");
    let run = s.run_dir("vq");
    let r = run.to_str().unwrap();
    let info = ok(s.path(), &["info", r]);
    assert!(info.contains("codec      16 codes, 4x4 per 8x8 image (2x2 pixels a code, 64 bits an image)"), "{info}");
    let tokenizer = SavedTokenizer::load(&run.join("tokenizer.json")).unwrap();
    let pipeline = tokenizer.pipeline();
    assert_eq!(pipeline.vocab_size(), 16 + 10 + 3, "codes, classes, specials");
    assert_eq!(pipeline.token_name(16).as_deref(), Some("Class_0"));

    // Class-conditional samples: PNGs of the tokenizer's size, enlarged, and their grid.
    ok(s.path(), &["sample", r, "--class", "3", "--seed", "2", "--out", "out"]);
    for i in 0..2 {
        assert_eq!(png_size(&s.path().join(format!("out/vq-{i}.png"))), (32, 32));
    }
    // A prompt of the whole image keeps all its codes: the seed has nothing left to draw.
    let prompt = s.path().join("out/vq-0.png");
    let prompted = |length: &str, seed: &str, out: &str| {
        let args = ["sample", r, "--class", "3", "--prompt", prompt.to_str().unwrap(), "--prompt-length", length];
        ok(s.path(), &[&args[..], &["--num", "1", "--max-tokens", "1", "--seed", seed, "--out", out]].concat());
        std::fs::read(s.path().join(out).join("vq.png")).unwrap()
    };
    assert_eq!(prompted("8", "1", "whole1"), prompted("8", "2", "whole2"));
    // Its top rows: whole rows of codes, continued to a whole image.
    let args = ["sample", r, "--class", "3", "--prompt", prompt.to_str().unwrap(), "--prompt-length", "3"];
    ok(s.path(), &[&args[..], &["--num", "1", "--out", "top"]].concat());
    assert_eq!(png_size(&s.path().join("top/vq.png")), (32, 32));

    // Evaluated per dim, in the pixels the codes stand for.
    let table = ok(s.path(), &["eval", r]);
    assert!(table.contains("codec: 16 codes, 4x4 per 8x8 image"), "{table}");

    // A changed weights file is refused by its checksum, naming it.
    let weights = run.join("codec-pixels.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&weights, &bytes).unwrap();
    let err = fails(s.path(), &["sample", r, "--class", "1"]);
    assert!(err.contains(&weights.display().to_string()) && err.contains("do not match tokenizer.json"), "{err}");

    // A palette carries no values for a codec; an audio key is named; patches must tile.
    let err = fails(s.path(), &["train", c, "--set", "tokenizer.colors=\"palette\"", "--set", "train.runs_dir=\"r2\""]);
    assert!(err.contains("a pixels tokenizer carries no signal"), "{err}");
    let err = fails(s.path(), &["train", c, "--set", "tokenizer.codec.hop=80", "--set", "train.runs_dir=\"r3\""]);
    assert!(err.contains("`hop` is a key of audio codecs"), "{err}");
    let err = fails(
        s.path(),
        &[
            "train",
            c,
            "--set",
            "tokenizer.codec.downsample=8",
            "--set",
            "tokenizer.width=12",
            "--set",
            "train.runs_dir=\"r4\"",
        ],
    );
    assert!(err.contains("12x8 images do not divide into codes of 8x8 pixels"), "{err}");
}

#[test]
fn an_image_codec_serves_a_class_conditional_video_run() {
    let s = Scratch::new();
    let mnist = shared_data("mnist-test/t10k-images-idx3-ubyte.gz");
    let args = ["dataset", "moving-mnist", "--out", "data/mm", "--clips", "12", "--frames", "4", "--size", "32"];
    let more = ["--digits", "1", "--labelled", "--seed", "1", "--mnist", mnist.to_str().unwrap()];
    ok(s.path(), &[&args[..], &more[..]].concat());
    let clips: Vec<String> = std::fs::read_dir(s.path().join("data/mm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(clips.len(), 12);
    assert!(clips.iter().all(|n| n.len() == 11 && n.as_bytes()[1] == b'_' && n.ends_with(".gif")), "{clips:?}");

    let data = "path = \"mm\"\nsplit = \"documents\"\nval_fraction = 0.2\nwindows = \"frames\"\ncontext_frames = 1";
    let tokenizer = format!(
        "kind = \"video\"\nmax_frames = 4\nconditional = true\n\n[tokenizer.frame]\nwidth = 16\nheight = 16\n\
         levels = 16\nscale = 2\n\n{TINY_CODEC}"
    );
    // BOS Class_k, then two frames of the frame token, the class and 4x4 codes.
    let extra = "[sample]\nnum = 1\nmax_tokens = 200\n";
    let cfg = tiny_config(s.path(), &s.path().join("data"), "mmvq", data, &tokenizer, 38, extra);
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("mmvq");
    let r = run.to_str().unwrap();
    let info = ok(s.path(), &["info", r]);
    assert!(info.contains("codec      16 codes, 4x4 per 16x16 image (4x4 pixels a code"), "{info}");
    let tokenizer = SavedTokenizer::load(&run.join("tokenizer.json")).unwrap();
    let pipeline = tokenizer.pipeline();
    assert_eq!(pipeline.frames(), Some((16, 18)), "the frame token after the codes; it, the class and 16 codes");
    assert_eq!(pipeline.token_name(17).map(|n| n.starts_with("Class_")), Some(true));

    // Six frames, longer than the training clips: a GIF of 6 frames of 32x32, and its sheet.
    ok(s.path(), &["sample", r, "--class", "0", "--frames", "6", "--seed", "4", "--out", "out"]);
    let frames = gif_frames(&s.path().join("out/mmvq.gif"));
    assert_eq!(frames.len(), 6);
    assert!(frames.iter().all(|f| f.dimensions() == (32, 32)));
    assert_eq!(png_size(&s.path().join("out/mmvq.png")), (6 * 33 - 1, 32));

    // A clip whose name gives no label is skipped by a conditional tokenizer, named in a warning.
    std::fs::copy(s.path().join("data/mm").join(&clips[0]), s.path().join("data/mm/unnamed.gif")).unwrap();
    let out = autoreg(s.path(), &["train", cfg.to_str().unwrap(), "--set", "train.runs_dir=\"r2\""]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("skipped") && stderr.contains("unnamed.gif: the clip's name"), "{stderr}");
    assert!(stderr.contains("does not match the label pattern \"{label}_{_}\""), "{stderr}");
    assert!(stderr.contains("12 file(s) (1 skipped)"), "{stderr}");
}

#[test]
fn an_image_codec_serves_text_to_image_in_a_mixed_run() {
    use crate::mixed::{SHAKESPEARE, WORDS, data, write_config};
    let s = Scratch::new();
    data(&s.path().join("data"));
    let digits = format!(
        "[[sources]]\nname = \"digits\"\npath = \"digits.csv.gz\"\ncaption = {{ from = \"class\", {WORDS} }}\n\
         [sources.tokenizer]\nkind = \"pixels\"\ncolors = \"grey\"\nlevels = 17\nconditional = true\nscale = 4\n\
         [sources.{}downsample = 2\n\n{SHAKESPEARE}",
        TINY_CODEC.trim_start_matches('[')
    );
    let cfg = write_config(&s, "mixvq", &digits, 64, 20);
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("mixvq");
    let r = run.to_str().unwrap();
    let info = ok(s.path(), &["info", r]);
    assert!(info.contains("16 codes, 4x4 per 8x8 image (2x2 pixels a code"), "{info}");
    assert!(run.join("codec-pixels.safetensors").is_file());

    // Text → image: the caption given, then an image decoded from its codes.
    ok(s.path(), &["sample", r, "--modality", "pixels", "--text", "seven", "--num", "2", "--out", "out"]);
    for i in 0..2 {
        assert_eq!(std::fs::read_to_string(s.path().join(format!("out/mixvq-{i}-0.txt"))).unwrap(), "seven");
        assert_eq!(png_size(&s.path().join(format!("out/mixvq-{i}-1.png"))), (32, 32));
    }
}
