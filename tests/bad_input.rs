//! Bad input gets a clear error naming the file or key, exit code 1, and no panic.

use crate::common;
use common::{Scratch, fails, ok, shared_data, tiny_config, within};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The 1-based line of `path` that starts with `key`.
fn line_of(path: &Path, key: &str) -> usize {
    std::fs::read_to_string(path).unwrap().lines().position(|l| l.starts_with(key)).unwrap() + 1
}

#[test]
fn unknown_toml_key() {
    let s = Scratch::new();
    let cfg = s.config("t", "[sample]\ntop_kk = 5\n");
    let err = fails(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("t.toml") && err.contains("unknown field `top_kk`"), "{err}");
    assert!(err.contains(&format!("line {}", line_of(&cfg, "top_kk"))), "{err}");
}

#[test]
fn wrong_value_type() {
    let s = Scratch::new();
    let cfg = s.config("t", "").to_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&cfg).unwrap().replace("n_layer = 2", "n_layer = \"two\"");
    std::fs::write(&cfg, text).unwrap();
    let err = fails(s.path(), &["train", &cfg]);
    assert!(
        err.contains(&format!("line {}", line_of(cfg.as_ref(), "n_layer")))
            && err.contains("invalid type: string \"two\", expected i64"),
        "{err}"
    );
    let err = fails(s.path(), &["train", &cfg, "--set", "model.n_layer=x"]);
    assert!(err.contains("t.toml"), "{err}");
}

#[test]
fn missing_data_path() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=missing.txt"]);
    assert!(err.contains("data.path missing.txt not found") && err.contains("data.root"), "{err}");
}

#[test]
fn empty_data_set() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path().join("data/empty")).unwrap();
    std::fs::write(s.path().join("data/empty/README.md"), "not text data").unwrap();
    let cfg = s.config("t", "");
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=empty"]);
    assert!(err.contains("no .txt files in") && err.contains("empty"), "{err}");
    // Files that hold too little for one window of the model.
    std::fs::write(s.path().join("data/empty/tiny.txt"), "ab").unwrap();
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=empty"]);
    assert!(err.contains("fewer than model.block_size + 1"), "{err}");
}

#[test]
fn non_utf8_input_to_the_character_tokenizer() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path().join("data/bad")).unwrap();
    std::fs::write(s.path().join("data/bad/latin1.txt"), b"caf\xe9 au lait").unwrap();
    let cfg = s.config("t", "");
    // Nothing but that file: no vocabulary can be learned, and the error says why.
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=bad"]);
    assert!(err.contains("latin1.txt: not UTF-8: invalid byte at offset 3"), "{err}");
    // Beside a good file, it is skipped with a warning and training goes on.
    std::fs::copy(s.path().join("data/corpus.txt"), s.path().join("data/bad/good.txt")).unwrap();
    let out = common::autoreg(s.path(), &["train", cfg.to_str().unwrap(), "--set", "data.path=bad"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning: skipped")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("latin1.txt: not UTF-8: invalid byte at offset 3"), "{stderr}");
    assert!(stderr.contains("(1 skipped)"), "{stderr}");
    // The same file as a prompt to the trained character model.
    let run = s.run_dir("t");
    let err = fails(s.path(), &["sample", run.to_str().unwrap(), "--prompt", "data/bad/latin1.txt"]);
    assert!(err.contains("latin1.txt: not UTF-8: invalid byte at offset 3"), "{err}");
}

#[test]
fn run_directory_without_weights() {
    let s = Scratch::new();
    let err = fails(s.path(), &["sample", "nowhere"]);
    assert!(err.contains("nowhere: not a run directory"), "{err}");
    let cfg = s.config("t", "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("t");
    std::fs::remove_dir_all(run.join("checkpoints")).unwrap();
    std::fs::remove_file(run.join("last")).unwrap();
    std::fs::remove_file(run.join("best")).unwrap();
    for cmd in ["sample", "eval"] {
        let err = fails(s.path(), &[cmd, run.to_str().unwrap()]);
        assert!(err.contains("no `best` checkpoint: no weights were saved here"), "{err}");
    }
    let err = fails(s.path(), &["train", "--resume", run.to_str().unwrap()]);
    assert!(err.contains("no `last` checkpoint"), "{err}");
}

#[test]
fn prompts_classes_and_sampling_options() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("t");
    let r = run.to_str().unwrap();
    // A prompt longer than the context is kept whole; the model sees its last window.
    let prompt = "the lazy dog ".repeat(10);
    std::fs::write(s.path().join("long.txt"), &prompt).unwrap();
    let out = ok(s.path(), &["sample", r, "--prompt", "long.txt", "--max-tokens", "5", "--out", "long"]);
    assert!(out.starts_with(&prompt), "{out}");
    let written = std::fs::read_to_string(s.path().join("long/t.txt")).unwrap();
    assert!(written.starts_with(&prompt) && written.len() <= prompt.len() + 5 * 4, "{written:?}");
    // Classes, by name or number, of a run that has none.
    for class in ["3", "Front"] {
        let err = fails(s.path(), &["sample", r, "--class", class]);
        assert!(err.contains(&format!("--class {class}")) || err.contains("has no classes"), "{err}");
    }
    // Negative numbers reach the option checks (not clap's "unexpected argument"), whose
    // errors name the flag.
    let err = fails(s.path(), &["sample", r, "--temperature", "-1", "--out", "neg"]);
    assert!(err.contains("--temperature must be a finite number"), "{err}");
    let err = fails(s.path(), &["sample", r, "--top-p", "-0.5", "--out", "neg"]);
    assert!(err.contains("--top-p must be in (0, 1]"), "{err}");
    // A failed sample leaves no output folder behind.
    assert!(!s.path().join("neg").exists());
    // A top-k beyond i64 is every token, not a panic.
    let huge = ["sample", r, "--top-k", "9223372036854775808", "--max-tokens", "5", "--seed", "3", "--out", "k"];
    let plain = ["sample", r, "--max-tokens", "5", "--seed", "3", "--out", "plain"];
    assert_eq!(ok(s.path(), &huge), ok(s.path(), &plain));
}

#[test]
fn model_sizes_that_cannot_fit_are_refused_before_allocating() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let c = cfg.to_str().unwrap();
    for set in ["model.n_embd=100000", "model.n_layer=100000", "train.batch_size=10000000", "model.block_size=1000000"]
    {
        let err = fails(s.path(), &["train", c, "--set", set]);
        assert!(err.contains("of memory but") && err.contains("is available"), "--set {set}: {err}");
    }
}

#[test]
fn a_tokenizer_option_error_points_at_its_line_and_each_cause_prints_once() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("kind = \"text\"", "kind = \"text\"\nlevel = \"word\"");
    std::fs::write(&cfg, text).unwrap();
    let err = fails(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains(&format!("line {}: [tokenizer] unknown variant `word`", line_of(&cfg, "level"))), "{err}");
    // A name too long for the file system: the OS error once, not `X: X`.
    let long = "n".repeat(300);
    let cfg = s.config("u", "");
    let err = fails(s.path(), &["train", cfg.to_str().unwrap(), "--set", &format!("name={long}")]);
    assert_eq!(err.matches("File name too long").count(), 1, "{err}");
}

/// [`fails`], failing the test when the command is still running after `secs`: a hang.
fn fails_within(secs: u64, cwd: &Path, args: &[&str]) -> String {
    let (cwd, args): (PathBuf, Vec<String>) = (cwd.to_owned(), args.iter().map(|a| a.to_string()).collect());
    within(Duration::from_secs(secs), move || fails(&cwd, &args.iter().map(String::as_str).collect::<Vec<_>>()))
}

/// [`ok`] within `secs`, as [`fails_within`]; returns standard error, not output.
fn ok_within(secs: u64, cwd: &Path, args: &[&str]) -> String {
    let (cwd, args): (PathBuf, Vec<String>) = (cwd.to_owned(), args.iter().map(|a| a.to_string()).collect());
    within(Duration::from_secs(secs), move || {
        let out = common::autoreg(&cwd, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "autoreg {args:?} failed:\n{stderr}");
        stderr
    })
}

#[test]
fn sizes_from_sample_and_eval_flags_are_bounded_before_allocating_and_name_the_flag() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("t");
    let r = run.to_str().unwrap();
    let sample = |args: &[&str]| fails_within(120, s.path(), &[&["sample", r, "--out", "none"][..], args].concat());
    // Samples drawn in one batch: a sensible most, then what fits in memory.
    let err = sample(&["--num", "100000000", "--max-tokens", "1"]);
    assert!(err.contains("--num must be at most 65536"), "{err}");
    let huge = "18446744073709551615";
    let err = sample(&["--num", huge, "--max-tokens", huge]);
    assert!(err.contains("--num must be at most 65536"), "{err}");
    let err = sample(&["--max-tokens", huge]);
    assert!(err.contains("--max-tokens must be at most 16777216 new tokens per sample"), "{err}");
    let err = sample(&["--num", "65536", "--max-tokens", "16777216"]);
    assert!(err.contains("--num is too large: 65536 samples") && err.contains("of memory but"), "{err}");
    assert!(err.contains("is available; at most"), "{err}");
    // `--per-class` sets the number of samples per class, and says so.
    let err = sample(&["--per-class", "0"]);
    assert!(err.contains("--per-class must be at least 1") && !err.contains("sample.num"), "{err}");
    let err = sample(&["--num", "0"]);
    assert!(err.contains("--num must be at least 1"), "{err}");
    // Flags in a modality's unit point at --prompt-length, not at --prompt-frames.
    for (flag, what) in [("--prompt-bars", "bars"), ("--prompt-rows", "rows"), ("--prompt-seconds", "seconds")] {
        let err = sample(&["--prompt", "t.toml", flag, "4"]);
        assert!(err.contains(&format!("`--prompt-length 4` keeps the first 4 {what}")), "{flag}: {err}");
        assert!(!err.contains("--prompt-frames"), "{err}");
    }
    assert!(!s.path().join("none").exists());

    // The Markov baseline's order: its limit and why.
    let err = fails_within(120, s.path(), &["eval", r, "--markov-order", "1000000"]);
    assert!(err.contains("--markov-order 1000000: at most 32") && err.contains("nearly every context"), "{err}");
    let err = fails_within(120, s.path(), &["eval", r, "--markov-order", huge]);
    assert!(err.contains("at most 32"), "{err}");
    let stderr = ok_within(120, s.path(), &["eval", r, "--markov-order", "32"]);
    assert!(stderr.contains("eval.json"), "{stderr}");

    // A prompt of 20 MB: only its tail is encoded and echoed, a generous multiple of the
    // 32-token context.
    let prompt = "the lazy dog ".repeat(1_600_000);
    std::fs::write(s.path().join("huge.txt"), &prompt).unwrap();
    let args = ["sample", r, "--prompt", "huge.txt", "--max-tokens", "5", "--out", "huge"];
    let stderr = ok_within(120, s.path(), &args);
    assert!(stderr.contains("huge.txt: a prompt of 20800000 bytes; only its last"), "{stderr}");
    let written = std::fs::read_to_string(s.path().join("huge/t.txt")).unwrap();
    assert!(written.len() <= (64 << 10) + 5 * 4, "{} bytes", written.len());
    assert!(written.len() >= 64 << 10 && prompt.ends_with(&written[..64 << 10]), "{:?}", &written[..20]);
}

/// The arguments `args` as string slices.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Copies the first `n` files of `from` whose names end with `ext` into `to`.
fn copy_some(from: &Path, to: &Path, ext: &str, n: usize) {
    std::fs::create_dir_all(to).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("{}: {e}", from.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    files.sort();
    assert!(files.len() >= n, "{}: fewer than {n} {ext} files", from.display());
    for f in &files[..n] {
        std::fs::copy(f, to.join(f.file_name().unwrap())).unwrap();
    }
}

#[test]
fn a_prompt_length_of_0_is_refused_for_every_modality_and_a_huge_code_prompt_is_cut() {
    let s = Scratch::new();
    let root = s.path().join("data");
    // A tiny byte-level BPE code run, of files made here.
    std::fs::create_dir_all(root.join("code")).unwrap();
    for f in 0..4 {
        let text: String = (0..150).map(|i| format!("def f{i}(x, y):\n    return x * {i} + y  # {f}\n")).collect();
        std::fs::write(root.join(format!("code/m{f}.py")), text).unwrap();
    }
    let data = "path = \"code\"\nsplit = \"files\"\nval_fraction = 0.25";
    let bpe = "kind = \"code\"\nextensions = [\"py\"]\n\n[tokenizer.bpe]\nvocab_size = 300";
    // Tiny runs of images, MIDI and sound, from the data sets the project carries.
    let digits = shared_data("digits/digits.csv.gz");
    copy_some(&shared_data("nottingham/melody"), &root.join("melody"), ".mid", 6);
    copy_some(&shared_data("fsdd/recordings"), &root.join("wav"), "_jackson_0.wav", 4);
    let docs = |path: &str| format!("path = \"{path}\"\nsplit = \"documents\"\nval_fraction = 0.25");
    let pixels_data = format!("{}\nwindows = \"documents\"", docs(&digits.display().to_string()));
    let runs = [
        ("code", data.to_owned(), bpe.to_owned(), 32, "lines"),
        ("pixels", pixels_data, "kind = \"pixels\"\ncolors = \"grey\"\nlevels = 4".to_owned(), 65, "rows"),
        ("midi", docs("melody"), "kind = \"midi\"".to_owned(), 64, "bars"),
        ("audio", docs("wav"), "kind = \"audio\"".to_owned(), 32, "seconds"),
    ];
    for (name, data, tokenizer, block, unit) in runs {
        let cfg = tiny_config(s.path(), &root, name, &data, &tokenizer, block, "");
        ok(s.path(), &["train", cfg.to_str().unwrap()]);
        let r = s.run_dir(name);
        let r = r.to_str().unwrap();
        for length in ["0", "-1"] {
            let args = ["sample", r, "--prompt", cfg.to_str().unwrap(), "--prompt-length", length, "--out", "none"];
            let err = fails(s.path(), &args);
            let expected = format!("--prompt-length {length}: must be more than 0: it keeps the first N {unit}");
            assert!(err.contains(&expected) && err.contains("leave out --prompt"), "{name}: {err}");
        }
    }
    assert!(!s.path().join("none").exists());

    // 27 MB of code: the tail that can matter is BPE-encoded, not the whole file, and
    // `--prompt-length` still keeps the file's first lines.
    std::fs::write(s.path().join("big.py"), "def g(a):\n    return a + 1\n".repeat(1_000_000)).unwrap();
    let r = s.run_dir("code");
    let r = r.to_str().unwrap();
    let stderr = ok_within(120, s.path(), &["sample", r, "--prompt", "big.py", "--max-tokens", "5", "--out", "big"]);
    assert!(stderr.contains("big.py: a prompt of 27000000 bytes; only its last 65536 bytes are kept"), "{stderr}");
    let written = std::fs::read(s.path().join("big/code.py")).unwrap();
    assert!(written.len() <= (64 << 10) + 5 * 300, "{} bytes", written.len());
    let args = ["sample", r, "--prompt", "big.py", "--prompt-length", "2", "--max-tokens", "5", "--out", "two"];
    ok_within(120, s.path(), &args);
    let written = std::fs::read(s.path().join("two/code.py")).unwrap();
    assert!(written.starts_with(b"def g(a):\n    return a + 1\n") && written.len() < 200, "{written:?}");
}

#[test]
fn video_frames_are_bounded_and_moving_mnist_refuses_what_would_mix() {
    let s = Scratch::new();
    let mnist = shared_data("mnist-test/t10k-images-idx3-ubyte.gz");
    let m = mnist.to_str().unwrap();
    let make = |out: &str, clips: &str| -> Vec<String> {
        let args = ["dataset", "moving-mnist", "--out", out, "--clips", clips, "--frames", "4", "--size", "28"];
        [&args[..], &["--digits", "1", "--mnist", m]].concat().iter().map(|a| a.to_string()).collect()
    };
    // No clips, or a folder that holds anything, is refused; an empty one is fine.
    let err = fails(s.path(), &strs(&make("data/none", "0")));
    assert!(err.contains("--clips 0: must be at least 1"), "{err}");
    assert!(!s.path().join("data/none").exists());
    std::fs::create_dir_all(s.path().join("data/mm")).unwrap();
    ok(s.path(), &strs(&make("data/mm", "12")));
    let err = fails(s.path(), &strs(&make("data/mm", "3")));
    assert!(err.contains("--out data/mm: the folder is not empty") && err.contains("never mix"), "{err}");
    assert_eq!(std::fs::read_dir(s.path().join("data/mm")).unwrap().count(), 12);

    // A tiny video run: frames of 8x8 pixels (65 tokens with the frame token).
    let data = "path = \"mm\"\nsplit = \"documents\"\nval_fraction = 0.2\nwindows = \"frames\"\ncontext_frames = 1";
    let tokenizer = "kind = \"video\"\nmax_frames = 4\n\n[tokenizer.frame]\nwidth = 8\nheight = 8\nlevels = 2";
    let cfg = tiny_config(s.path(), &s.path().join("data"), "mm", data, tokenizer, 130, "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("mm");
    let r = run.to_str().unwrap();
    let clip = "data/mm/clip-00000.gif";
    let sample = |args: &[&str]| fails_within(120, s.path(), &[&["sample", r, "--out", "none"][..], args].concat());
    for frames in ["18446744073709551615", "1000000"] {
        let err = sample(&["--frames", frames]);
        assert!(err.contains(&format!("--frames {frames}: at most 258110 frames of 65 tokens")), "{err}");
    }
    let err = sample(&["--frames", "0"]);
    assert!(err.contains("--frames 0: must be at least 1"), "{err}");
    // Too few tokens for a frame: said without a prompt that is not there.
    let err = sample(&["--max-tokens", "5"]);
    assert!(err.contains("--max-tokens 5: holds no whole frame,") && !err.contains("prompt holds"), "{err}");
    assert!(err.contains("frames of 65 tokens: give at least 65, or the number of frames with --frames"), "{err}");
    let err = sample(&["--prompt", clip, "--prompt-frames", "2", "--max-tokens", "5"]);
    assert!(err.contains("--max-tokens 5: holds no whole frame after the prompt's 2 frames"), "{err}");
    let err = sample(&["--prompt", clip, "--frames", "3"]);
    assert!(err.contains("--frames 3: the prompt holds 4 frames already"), "{err}");
    let err = sample(&["--prompt", clip, "--prompt-frames", "0"]);
    assert!(err.contains("--prompt-frames 0: must be at least 1"), "{err}");
    let err = sample(&["--prompt", clip, "--prompt-length", "0"]);
    assert!(err.contains("--prompt-length 0: must be more than 0: it keeps the first N frames"), "{err}");
    assert!(!s.path().join("none").exists());
    // What is within bounds samples.
    ok(s.path(), &["sample", r, "--prompt", clip, "--prompt-frames", "2", "--frames", "5", "--num", "1", "--out", "v"]);
    assert!(s.path().join("v/mm.gif").is_file());
}

/// `data: N file(s) (M skipped)...`: the summary line of `train`.
fn summary(stderr: &str) -> &str {
    stderr.lines().find(|l| l.starts_with("data: ")).unwrap_or_else(|| panic!("no summary:\n{stderr}"))
}

#[test]
fn a_huge_sidecar_caption_skips_its_file_naming_it_and_eval_runs() {
    use autoreg::pixels::image::{GrayImage, Luma};
    let s = Scratch::new();
    let root = s.path().join("data");
    let img = root.join("img");
    std::fs::create_dir_all(&img).unwrap();
    std::fs::write(root.join("words.txt"), "three seven one zero. ".repeat(400)).unwrap();
    for i in 0..8u8 {
        GrayImage::from_fn(4, 4, |x, y| Luma([if (x + y + u32::from(i)) % 2 == 0 { 255 } else { 0 }]))
            .save(img.join(format!("{i}.png")))
            .unwrap();
        std::fs::write(img.join(format!("{i}.txt")), ["three", "seven", "one", "zero"][usize::from(i) % 4]).unwrap();
    }
    // 9.6 MB of caption for a model of 80 positions.
    std::fs::write(img.join("5.txt"), "seven ".repeat(1_600_000)).unwrap();
    let text = format!(
        r#"name = "cap"

[data]
root = "{root}"
cache_dir = "{cache}"
windows = "documents"

[[sources]]
name = "images"
path = "img"
split = "files"
val_fraction = 0.3
caption = {{ from = "sidecar" }}
[sources.tokenizer]
kind = "pixels"
colors = "grey"
levels = 2

[[sources]]
name = "words"
path = "words.txt"
split = "tail"
[sources.tokenizer]
kind = "text"
level = "char"

[model]
n_layer = 1
n_head = 2
n_embd = 32
block_size = 80

[train]
runs_dir = "{runs}"
batch_size = 4
max_steps = 4
warmup_steps = 1
eval_interval = 4
eval_batches = 1
device = "cpu"
threads = 1
"#,
        root = root.display(),
        cache = s.path().join("cache").display(),
        runs = s.path().join("runs").display(),
    );
    let cfg = s.path().join("cap.toml");
    std::fs::write(&cfg, text).unwrap();
    let stderr = ok_within(300, s.path(), &["train", cfg.to_str().unwrap()]);
    let said =
        format!("{}: its caption file {} is 9600000 bytes", img.join("5.png").display(), img.join("5.txt").display());
    assert!(stderr.contains(&format!("warning: skipped {said}")), "{stderr}");
    assert!(stderr.contains("a caption takes at most 40 ids here"), "{stderr}");
    assert!(summary(&stderr).starts_with("data: 8 file(s) (1 skipped)"), "{stderr}");
    // Eval reads the same documents, and says the same.
    let run = s.run_dir("cap");
    let stderr = ok_within(300, s.path(), &["eval", run.to_str().unwrap()]);
    assert!(stderr.contains(&said), "{stderr}");
}

#[test]
fn a_frame_of_another_size_is_skipped_and_a_skipped_clip_counts_its_frames_as_skipped() {
    use autoreg::pixels::image::{GrayImage, Luma};
    let s = Scratch::new();
    let root = s.path().join("data/clips");
    // Three clips of 6 frames of 8x8: one with a frame of 9x8, one whose names mix
    // numbered and unnumbered files.
    for (clip, names) in [
        ("a", ["f0", "f1", "f2", "f3", "f4", "f5"]),
        ("b", ["f0", "f1", "f2", "f3", "f4", "f5"]),
        ("c", ["cover", "f1", "f2", "f3", "f4", "f5"]),
    ] {
        std::fs::create_dir_all(root.join(clip)).unwrap();
        for (f, name) in names.iter().enumerate() {
            let width = if clip == "a" && f == 3 { 9 } else { 8 };
            let f = f as u32;
            GrayImage::from_fn(width, 8, |x, y| Luma([if x == f || y == f { 255 } else { 0 }]))
                .save(root.join(clip).join(format!("{name}.png")))
                .unwrap();
        }
    }
    let data = "path = \"clips\"\nsplit = \"documents\"\nval_fraction = 0.3\nwindows = \"frames\"\ncontext_frames = 1";
    let tokenizer = "kind = \"video\"\n\n[tokenizer.frame]\nwidth = 8\nheight = 8\nlevels = 2";
    let cfg = tiny_config(s.path(), &s.path().join("data"), "v", data, tokenizer, 130, "");
    let check = |stderr: &str| {
        let odd = root.join("a/f3.png");
        assert!(stderr.contains(&format!("skipped {}: a frame of 9x8 pixels", odd.display())), "{stderr}");
        assert!(stderr.contains("is 8x8: skipped, and the clip is cut there in two"), "{stderr}");
        let cover = root.join("c/cover.png");
        assert!(stderr.contains(&format!("skipped {}: the frames of", cover.display())), "{stderr}");
        assert!(
            stderr.contains("mix names that end in a number (f1.png) and names that do not (cover.png)"),
            "{stderr}"
        );
        let with = format!("skipped 5 more file(s) read with {}, which was skipped", cover.display());
        assert!(stderr.contains(&with), "{stderr}");
    };
    let stderr = ok_within(300, s.path(), &["train", cfg.to_str().unwrap()]);
    check(&stderr);
    // Clip a's 5 frames, in two documents, and clip b's 6: 11 of the 18 files.
    let line = summary(&stderr);
    assert!(
        line.starts_with("data: 11 file(s) (7 skipped)") && line.contains("2 train + 1 validation documents"),
        "{line}"
    );
    // From the cache, the same is said again.
    let stderr = ok_within(300, s.path(), &["train", cfg.to_str().unwrap(), "--set", "name=\"v2\""]);
    check(&stderr);
    assert!(summary(&stderr).starts_with("data: 11 file(s) (7 skipped) from the cache"), "{stderr}");
}

#[test]
fn a_code_file_of_one_huge_line_or_word_trains_with_bpe() {
    let s = Scratch::new();
    let code = s.path().join("data/code");
    copy_some(&shared_data("python-stdlib/src"), &code, ".py", 4);
    // Before, the pre-tokenizer took 15 GB for 52 MB of `x=1;` on one line, and an
    // identifier of millions of bytes never finished learning its merges.
    std::fs::write(code.join("line.py"), "x=1;".repeat(1 << 20)).unwrap();
    std::fs::write(code.join("word.py"), "a".repeat(4 << 20)).unwrap();
    let data = "path = \"code\"\nsplit = \"files\"\nval_files = \"line.py\"";
    let tokenizer = "kind = \"code\"\n\n[tokenizer.bpe]\nvocab_size = 400";
    let cfg = tiny_config(s.path(), &s.path().join("data"), "c", data, tokenizer, 32, "");
    let stderr = ok_within(300, s.path(), &["train", cfg.to_str().unwrap(), "--set", "train.max_steps=2"]);
    assert!(summary(&stderr).starts_with("data: 6 file(s),"), "{stderr}");
}
