//! Video end to end through the `autoreg` binary: Moving MNIST made from the real MNIST
//! test set, a tiny model trained on windows of whole frames, 20-frame samples read back,
//! a clip continued from its first frames, and the evaluation beside its baselines.

use crate::common;
use autoreg::SavedModality;
use autoreg::SavedTokenizer;
use autoreg::pixels::image::{self, AnimationDecoder, DynamicImage, GrayImage};
use autoreg::video::VideoTokenizer;
use common::{Scratch, fails, ok, shared_data};
use std::path::{Path, PathBuf};

/// Frames of the tokenizer: SIDE x SIDE pixels of LEVELS grey levels, decoded SCALE times larger.
const SIDE: u32 = 12;
const SCALE: u32 = 2;
const LEVELS: u32 = 4;
/// Frames per training clip, and clips.
const FRAMES: usize = 8;
const CLIPS: usize = 1000;

/// Makes the clips (one digit each, 48x48, 8 frames) and a config that trains on them;
/// returns the config's path and the clips.
fn moving_mnist(s: &Scratch) -> (PathBuf, Vec<PathBuf>) {
    let mnist = shared_data("mnist-test/t10k-images-idx3-ubyte.gz");
    let make = |out: &str, clips: usize| {
        let clips = clips.to_string();
        let args = ["dataset", "moving-mnist", "--out", out, "--clips", &clips, "--frames", "8", "--size", "48"];
        let more = ["--digits", "1", "--seed", "3", "--mnist", mnist.to_str().unwrap()];
        ok(s.path(), &[&args[..], &more[..]].concat());
    };
    make("data/mm", CLIPS);
    make("again", 100);
    let clips: Vec<PathBuf> = (0..CLIPS).map(|i| s.path().join(format!("data/mm/clip-{i:05}.gif"))).collect();
    assert!(clips.iter().all(|c| c.is_file()));
    for name in ["clip-00000.gif", "clip-00099.gif"] {
        let read = |set: &str| std::fs::read(s.path().join(set).join(name)).unwrap();
        assert_eq!(read("data/mm"), read("again"), "the same seed makes the same clips, however many");
    }
    let frames = gif_frames(&clips[0]);
    assert_eq!((frames.len(), frames[0].dimensions()), (8, (48, 48)));
    let extra = "[sample]\nnum = 2\nmax_tokens = 600\n";
    let data = "path = \"mm\"\nsplit = \"documents\"\nval_fraction = 0.1\nwindows = \"frames\"\ncontext_frames = 1";
    let tokenizer = format!(
        "kind = \"video\"\nmax_frames = {FRAMES}\n\n[tokenizer.frame]\nwidth = {SIDE}\nheight = {SIDE}\n\
         levels = {LEVELS}\nscale = {SCALE}"
    );
    let block = 2 * (SIDE * SIDE + 1);
    let cfg = common::tiny_config(s.path(), &s.path().join("data"), "mm", data, &tokenizer, block, extra);
    // Rotary positions, and more steps than the tiny default, so that samples look like
    // the clips: over 20 frames, 1 frame in 400 of this model's leaves the data's range
    // of ink (a digit fades), 3 in 400 at 16x16 frames.
    let text = std::fs::read_to_string(&cfg).unwrap().replace("block_size =", "positions = \"rope\"\nblock_size =");
    let text =
        text.replace("max_steps = 20", "max_steps = 1600\nlr = 3e-3").replace("batch_size = 4", "batch_size = 8");
    std::fs::write(&cfg, text).unwrap();
    (cfg, clips)
}

/// The frames of a GIF, as 8-bit grey.
fn gif_frames(path: &Path) -> Vec<GrayImage> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    let decoder = image::codecs::gif::GifDecoder::new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decoder.into_frames().map(|f| DynamicImage::ImageRgba8(f.unwrap().into_buffer()).to_luma8()).collect()
}

/// The grey levels of a decoded frame, one per tokenizer pixel.
fn levels(frame: &GrayImage) -> Vec<u32> {
    let step = 255 / (LEVELS - 1);
    (0..SIDE * SIDE)
        .map(|i| {
            let v = u32::from(frame.get_pixel(i % SIDE * SCALE, i / SIDE * SCALE)[0]);
            assert_eq!(v % step, 0, "{v} is no grey level");
            v / step
        })
        .collect()
}

/// The ink of a frame (its levels summed) and its centroid.
fn ink_and_centroid(levels: &[u32]) -> (u32, (f64, f64)) {
    let ink: u32 = levels.iter().sum();
    let (sx, sy) = levels.iter().enumerate().fold((0.0, 0.0), |(sx, sy), (i, &l)| {
        (sx + f64::from(l) * (i as u32 % SIDE) as f64, sy + f64::from(l) * (i as u32 / SIDE) as f64)
    });
    (ink, (sx / f64::from(ink.max(1)), sy / f64::from(ink.max(1))))
}

fn video_tokenizer(run: &Path) -> VideoTokenizer {
    match SavedTokenizer::load(&run.join("tokenizer.json")).unwrap().base {
        SavedModality::Video(t) => t,
        other => panic!("not a video tokenizer: {other:?}"),
    }
}

#[test]
fn moving_mnist_trains_on_frames_samples_clips_and_continues_prompts() {
    let s = Scratch::new();
    let (cfg, clips) = moving_mnist(&s);
    let c = cfg.to_str().unwrap();
    // Windows that cannot hold two frames are refused before training.
    let err = fails(s.path(), &["train", c, "--set", "model.block_size=200"]);
    assert!(err.contains("model.block_size 200") && err.contains("2 frames of 145 tokens"), "{err}");
    // Merges would break frames into ids of no fixed count: refused before training.
    let err = fails(s.path(), &["train", c, "--set", "tokenizer.bpe.vocab_size=400"]);
    assert!(err.contains("[tokenizer.bpe]: the ids of a video tokenizer do not merge"), "{err}");
    ok(s.path(), &["train", c]);
    let run = s.run_dir("mm");
    let r = run.to_str().unwrap();
    let tok = video_tokenizer(&run);

    // The training clips' ink per frame, after quantisation.
    let (mut least, mut most) = (u32::MAX, 0);
    for path in &clips {
        let bytes = std::fs::read(path).unwrap();
        let doc = autoreg::tokens::Modality::encode(&tok, &autoreg::tokens::Source::new(path, &bytes)).unwrap();
        for frame in tok.frames_of(&doc[0]).0 {
            let ink = ink_and_centroid(&frame).0;
            (least, most) = (least.min(ink), most.max(ink));
        }
    }

    // Two 20-frame samples, longer than any training clip: GIFs of 20 frames of the
    // configured size, with contact sheets, whose digits move and keep their ink.
    ok(s.path(), &["sample", r, "--frames", "20", "--seed", "5", "--out", "out"]);
    for i in 0..2 {
        let gif = s.path().join(format!("out/mm-{i}.gif"));
        let frames = gif_frames(&gif);
        assert_eq!(frames.len(), 20, "{}", gif.display());
        assert!(frames.iter().all(|f| f.dimensions() == (SIDE * SCALE, SIDE * SCALE)));
        let sheet = s.path().join(format!("out/mm-{i}.png"));
        assert_eq!(common::png_size(&sheet), (20 * (SIDE * SCALE + 1) - 1, SIDE * SCALE));
        let measured: Vec<(u32, (f64, f64))> = frames.iter().map(|f| ink_and_centroid(&levels(f))).collect();
        for (f, w) in frames.windows(2).enumerate() {
            assert_ne!(w[0], w[1], "sample {i}: frames {f} and {} are the same", f + 1);
            let ((_, (x0, y0)), (_, (x1, y1))) = (measured[f], measured[f + 1]);
            assert!((x1 - x0).hypot(y1 - y0) < f64::from(SIDE), "sample {i}: the ink jumps at frame {f}");
        }
        for (f, (ink, _)) in measured.iter().enumerate() {
            assert!((least..=most).contains(ink), "sample {i} frame {f}: ink {ink} outside {least}..={most}");
        }
    }
    assert!(s.path().join("out/mm-grid.png").is_file());

    // A clip continued from its first 5 frames: they come back as the tokenizer
    // quantises them, then new frames follow.
    let prompt = clips[42].clone();
    let p = prompt.to_str().unwrap();
    ok(
        s.path(),
        &["sample", r, "--prompt", p, "--prompt-frames", "5", "--frames", "12", "--num", "1", "--out", "cont"],
    );
    let out = gif_frames(&s.path().join("cont/mm.gif"));
    assert_eq!(out.len(), 12);
    let bytes = std::fs::read(&prompt).unwrap();
    let doc = autoreg::tokens::Modality::encode(&tok, &autoreg::tokens::Source::new(&prompt, &bytes)).unwrap();
    let quantised = tok.frames_of(&doc[0]).0;
    for f in 0..5 {
        assert_eq!(levels(&out[f]), quantised[f], "prompt frame {f}");
    }
    assert_ne!(levels(&out[5]), quantised[4], "the frame after the prompt is new");

    // Prompts and lengths that cannot be used.
    let err = fails(s.path(), &["sample", r, "--prompt", p, "--prompt-frames", "9", "--out", "none"]);
    assert!(err.contains("clip-00042.gif") && err.contains("cannot keep 9 frames of a clip of 8 frames"), "{err}");
    let err = fails(s.path(), &["sample", r, "--prompt", p, "--prompt-frames", "5", "--frames", "4", "--out", "none"]);
    assert!(err.contains("holds 5 frames already"), "{err}");
    assert!(!s.path().join("none").exists());

    // Evaluation: bits per dimension and nats per frame beside the baselines, and the
    // published figure as an anchor of another setup.
    let eval = ok(s.path(), &["eval", r]);
    for needle in ["bits/dim", "nats/frame", "copy the last frame", "per-position", "Video Pixel Networks"] {
        assert!(eval.contains(needle), "{needle}: {eval}");
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(json["frames"], CLIPS / 10 * FRAMES, "a tenth of the clips validate, {FRAMES} frames each");
    assert_eq!(json["units"], CLIPS / 10 * FRAMES * (SIDE * SIDE) as usize);
    let rows = json["models"].as_array().unwrap();
    let frame_nats = |name: &str| {
        let row = rows.iter().find(|m| m["model"] == name).unwrap_or_else(|| panic!("{name}: {eval}"));
        row["nats_per_frame"].as_f64().unwrap()
    };
    let (model, copy) = (frame_nats("transformer, frame windows"), frame_nats("copy the last frame"));
    assert!(model.is_finite() && model > 0.0 && copy > 0.0, "{eval}");
}

#[test]
fn frame_windows_need_a_tokenizer_of_frames() {
    let s = Scratch::new();
    let cfg = s.config("text", "");
    let text =
        std::fs::read_to_string(&cfg).unwrap().replace("split = \"tail\"", "split = \"tail\"\nwindows = \"frames\"");
    std::fs::write(&cfg, &text).unwrap();
    let err = fails(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("data.windows = \"frames\" needs data.context_frames"), "{err}");
    std::fs::write(&cfg, text.replace("windows = \"frames\"", "windows = \"frames\"\ncontext_frames = 2")).unwrap();
    let err = fails(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("needs a tokenizer whose documents are frames") && err.contains("text tokenizer"), "{err}");
    // --frames is for runs of frames.
    let plain = s.config("plain", "");
    ok(s.path(), &["train", plain.to_str().unwrap()]);
    let err = fails(s.path(), &["sample", s.run_dir("plain").to_str().unwrap(), "--frames", "3", "--out", "x"]);
    assert!(err.contains("--frames") && err.contains("not frames"), "{err}");
}
