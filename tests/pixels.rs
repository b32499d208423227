//! Images end to end through the `autoreg` binary: a tiny class-conditional model of the
//! 8x8 digits is trained, then sampled per class, for one class, from a prompt's top
//! rows, and evaluated in bits per dimension.

use crate::common;
use autoreg::pixels::image::{self, GrayImage, Luma};
use common::{Scratch, autoreg, fails, ok};
use std::path::{Path, PathBuf};

/// Side of a digit in pixels, and the factor by which decoded PNGs are enlarged.
const SIDE: u32 = 8;
const SCALE: u32 = 4;
/// Grey levels of the tokenizer.
const LEVELS: u32 = 17;
/// The digits file, under the data root.
const DIGITS: &str = "digits/digits.csv.gz";

/// The data root holding `digits/digits.csv.gz`: the first that has the file
/// ([`autoreg_data::find_data`]: `$AUTOREG_DATA` when set, else the copy carried in the
/// repository).
fn data_root() -> PathBuf {
    let file = autoreg_data::find_data(DIGITS).unwrap_or_else(|e| panic!("{e}"));
    file.ancestors().nth(2).unwrap_or_else(|| panic!("{}: no data root above", file.display())).to_path_buf()
}

/// Writes a tiny class-conditional digits config (resizing off, so that a prompt of
/// another size is an error) and returns its path.
fn digits_config(s: &Scratch) -> PathBuf {
    let text = format!(
        r#"name = "digits"

[data]
root = "{root}"
path = "{DIGITS}"
split = "documents"
val_fraction = 0.1
windows = "documents"
cache_dir = "{cache}"

[tokenizer]
kind = "pixels"
colors = "grey"
levels = {LEVELS}
conditional = true
resize = false
scale = {SCALE}

[model]
n_layer = 2
n_head = 2
n_embd = 32
block_size = 66

[train]
runs_dir = "{runs}"
batch_size = 16
max_steps = 40
lr = 3e-3
warmup_steps = 5
eval_interval = 20
eval_batches = 2
device = "cpu"
threads = 1

[sample]
num = 2
max_tokens = 70
"#,
        root = data_root().display(),
        cache = s.path().join("cache").display(),
        runs = s.path().join("runs").display(),
    );
    let path = s.path().join("digits.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The grey value of level `l`, as the tokenizer decodes it.
fn grey(l: u32) -> u8 {
    (f64::from(l) * 255.0 / f64::from(LEVELS - 1)).round() as u8
}

/// An 8x8 prompt whose pixels are exact grey levels, different in every row and column.
fn prompt_image() -> GrayImage {
    GrayImage::from_fn(SIDE, SIDE, |x, y| Luma([grey((3 * x + 5 * y) % LEVELS)]))
}

fn dimensions(path: &Path) -> (u32, u32) {
    image::image_dimensions(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn conditional_digits_sample_per_class_from_prompts_and_evaluate() {
    let s = Scratch::new();
    let cfg = digits_config(&s);
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("digits");
    let r = run.to_str().unwrap();
    let cell = SIDE * SCALE;

    // Every class, two samples each: one grid row per class and a PNG per sample.
    ok(s.path(), &["sample", r, "--per-class", "2", "--seed", "3", "--out", "grid"]);
    assert_eq!(dimensions(&s.path().join("grid/digits.png")), (2 * (cell + 1) - 1, 10 * (cell + 1) - 1));
    for class in 0..10 {
        for i in 0..2 {
            let path = s.path().join(format!("grid/digits-{class}-{i}.png"));
            assert_eq!(dimensions(&path), (cell, cell), "{}", path.display());
        }
    }
    assert!(!s.path().join("grid/digits-10-0.png").exists());

    // One class: fine; a class that does not exist: a clear error, no panic.
    ok(s.path(), &["sample", r, "--class", "7", "--num", "1", "--out", "seven"]);
    assert_eq!(dimensions(&s.path().join("seven/digits.png")), (cell, cell));
    let err = fails(s.path(), &["sample", r, "--class", "10", "--out", "none"]);
    assert!(err.contains("class 10 is out of range") && err.contains("10 classes"), "{err}");

    // A prompt (its class the model's likeliest: see below); its top 4 rows are kept,
    // the rest sampled.
    std::fs::create_dir_all(s.path().join("prompts/3")).unwrap();
    let prompt_path = s.path().join("prompts/3/p.png");
    let prompt = prompt_image();
    prompt.save(&prompt_path).unwrap();
    let p = prompt_path.to_str().unwrap();
    ok(s.path(), &["sample", r, "--prompt", p, "--prompt-length", "4", "--num", "2", "--seed", "1", "--out", "done"]);
    let mut bottoms = Vec::new();
    for i in 0..2 {
        let out = image::open(s.path().join(format!("done/digits-{i}.png"))).unwrap().to_luma8();
        assert_eq!(out.dimensions(), (cell, cell));
        for (x, y, px) in out.enumerate_pixels() {
            if y < 4 * SCALE {
                assert_eq!(px, prompt.get_pixel(x / SCALE, y / SCALE), "sample {i}: pixel ({x}, {y}) of the kept rows");
            }
        }
        // Sampled pixels are grey levels of the tokenizer too.
        assert!(out.pixels().all(|px| (0..LEVELS).any(|l| grey(l) == px[0])));
        bottoms.push(out.rows().skip((4 * SCALE) as usize).flatten().map(|px| px[0]).collect::<Vec<_>>());
    }
    assert_ne!(bottoms[0], bottoms[1], "two samples from one prompt should differ below it");
    // The whole prompt kept: the image comes back unchanged.
    ok(s.path(), &["sample", r, "--prompt", p, "--prompt-length", "8", "--num", "1", "--out", "whole"]);
    let whole = image::open(s.path().join("whole/digits.png")).unwrap().to_luma8();
    assert!(whole.enumerate_pixels().all(|(x, y, px)| px == prompt.get_pixel(x / SCALE, y / SCALE)));

    // A sample written by `sample` (enlarged) is a prompt too: it comes back unchanged.
    let again = s.path().join("prompts/3/again.png");
    std::fs::copy(s.path().join("done/digits-1.png"), &again).unwrap();
    let a = again.to_str().unwrap();
    ok(s.path(), &["sample", r, "--prompt", a, "--prompt-length", "8", "--num", "1", "--out", "again"]);
    assert_eq!(
        image::open(s.path().join("again/digits.png")).unwrap().to_luma8(),
        image::open(&again).unwrap().to_luma8()
    );

    // Prompts that cannot be used: another size (resizing is off), too many rows.
    let wrong = s.path().join("prompts/3/wrong.png");
    GrayImage::new(10, 6).save(&wrong).unwrap();
    let err = fails(s.path(), &["sample", r, "--prompt", wrong.to_str().unwrap(), "--prompt-length", "4"]);
    assert!(err.contains("wrong.png") && err.contains("10x6, not 8x8"), "{err}");
    let err = fails(s.path(), &["sample", r, "--prompt", p, "--prompt-length", "9"]);
    assert!(err.contains("cannot keep 9 rows"), "{err}");

    // Evaluation in bits per dimension beside the independent-pixel model.
    let eval = ok(s.path(), &["eval", r]);
    assert!(eval.contains("bits/dim") && eval.contains("per-position"), "{eval}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(json["unit"], "dim");
    assert_eq!(json["units"], 180 * 64, "the validation split is 10% of 1,797 images of 64 pixels");
    let transformer = json["models"][0]["nats_per_unit"].as_f64().unwrap();
    assert!(transformer.is_finite() && transformer > 0.0 && transformer < f64::from(LEVELS).ln(), "{eval}");
}

/// The labels of the sample sets recorded in the run's `samples.jsonl`, in order.
fn recorded_labels(run: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(run.join("samples.jsonl")).unwrap();
    log.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["label"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The bytes of `out/digits-0.png` and `out/digits-1.png` under `dir`.
fn two_samples(dir: &Path, out: &str) -> Vec<Vec<u8>> {
    (0..2).map(|i| std::fs::read(dir.join(format!("{out}/digits-{i}.png"))).unwrap()).collect()
}

/// Issue 24: a prompt's class is the one named with `--class`, never its folder's (a
/// user's prompt is saved anywhere); without `--class`, the model's likeliest for it.
/// A run without classes refuses `--class`, with a prompt or without.
#[test]
fn a_prompt_s_class_is_the_one_named_never_its_folder() {
    let s = Scratch::new();
    let cfg = digits_config(&s);
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("digits");
    let r = run.to_str().unwrap();
    // One image, saved in a folder named like another class, in one named like none, and
    // in a class-like folder that is not a class.
    let prompt = prompt_image();
    let saved: Vec<String> = ["prompts/7/p.png", "elsewhere/p.png", "nine/p.png"]
        .iter()
        .map(|name| {
            let path = s.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            prompt.save(&path).unwrap();
            path.to_str().unwrap().to_owned()
        })
        .collect();
    let sample = |p: &str, class: Option<&str>, out: &str| {
        let mut args = vec!["sample", r, "--prompt", p, "--prompt-length", "3", "--num", "2", "--seed", "5"];
        args.extend(class.map(|c| ["--class", c]).into_iter().flatten());
        args.extend(["--out", out]);
        autoreg(s.path(), &args)
    };

    // --class 3 with a prompt saved under "7": class 3, recorded as such; the same
    // samples from the same image saved elsewhere (the folder plays no part).
    for (p, out) in [(&saved[0], "seven-as-3"), (&saved[1], "elsewhere-as-3")] {
        let done = sample(p, Some("3"), out);
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    }
    let labels = recorded_labels(&run);
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert_eq!(labels[0], format!("continuing the prompt {} as class 3", saved[0]));
    assert_eq!(labels[1], format!("continuing the prompt {} as class 3", saved[1]));
    assert_eq!(two_samples(s.path(), "seven-as-3"), two_samples(s.path(), "elsewhere-as-3"));
    // The prompt's top 3 rows are kept.
    let out = image::open(s.path().join("seven-as-3/digits-0.png")).unwrap().to_luma8();
    for (x, y, px) in out.enumerate_pixels().filter(|&(_, y, _)| y < 3 * SCALE) {
        assert_eq!(px, prompt.get_pixel(x / SCALE, y / SCALE), "pixel ({x}, {y}) of the kept rows");
    }
    // A class by name, and a class that is none: refused as without a prompt.
    let err = fails(s.path(), &["sample", r, "--prompt", &saved[0], "--class", "10", "--out", "none"]);
    assert!(err.contains("class 10 is out of range") && err.contains("10 classes"), "{err}");
    let err = fails(s.path(), &["sample", r, "--prompt", &saved[0], "--class", "seven", "--out", "none"]);
    assert!(err.contains("--class seven: no such class"), "{err}");
    assert!(!s.path().join("none").exists());

    // Without --class: the model's likeliest class for the prompt, said and recorded,
    // whatever the folder (the same for all three, and the same samples).
    let mut chosen = Vec::new();
    for (i, p) in saved.iter().enumerate() {
        let out = format!("drawn-{i}");
        let done = sample(p, None, &out);
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(done.status.success(), "{stderr}");
        assert!(stderr.contains("the model's likeliest for it (name the prompt's class with --class)"), "{stderr}");
        let label = recorded_labels(&run).pop().unwrap();
        let class =
            label.strip_prefix(&format!("continuing the prompt {p} as class ")).unwrap_or_else(|| panic!("{label}"));
        assert!(class.parse::<u32>().is_ok_and(|k| k < 10), "{label}");
        chosen.push((class.to_owned(), two_samples(s.path(), &out)));
    }
    assert!(chosen.windows(2).all(|w| w[0] == w[1]), "the class or samples depend on the folder");

    // A run without classes refuses --class, with a prompt or without.
    let sets = ["name=plain", "tokenizer.conditional=false", "train.max_steps=1", "train.eval_interval=1"];
    let mut args = vec!["train", cfg.to_str().unwrap()];
    args.extend(sets.iter().flat_map(|set| ["--set", set]));
    ok(s.path(), &args);
    let plain = s.run_dir("plain");
    let plain = plain.to_str().unwrap();
    for extra in [&["--prompt", &saved[0]][..], &[]] {
        let err = fails(s.path(), &[&["sample", plain, "--class", "3", "--out", "none"][..], extra].concat());
        assert!(err.contains("--class 3: this pixels run has no classes"), "{err}");
    }
    ok(s.path(), &["sample", plain, "--prompt", &saved[0], "--prompt-length", "3", "--num", "1", "--out", "plain"]);
    assert!(!s.path().join("none").exists());
}
