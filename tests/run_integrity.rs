//! Damaged or mismatched checkpoints, caches and data folders, and numbers out of range,
//! get a clear error (exit 1, no panic, within a time limit) or are skipped with a
//! warning; never silently used.

use crate::common;
use common::{Scratch, autoreg, fails, ok, within};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A scratch folder with the run `t` trained (20 steps) by `train cfg --set ...`.
fn trained(sets: &[&str]) -> (Scratch, PathBuf, String) {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let mut args = vec!["train", cfg.to_str().unwrap()];
    sets.iter().for_each(|set| args.extend(["--set", set]));
    ok(s.path(), &args);
    let run = s.run_dir("t");
    let r = run.to_str().unwrap().to_owned();
    (s, run, r)
}

/// `autoreg args` in `cwd` fails cleanly within a minute; returns the message.
fn fails_soon(cwd: &Path, args: &[&str]) -> String {
    let (cwd, args): (PathBuf, Vec<String>) = (cwd.to_owned(), args.iter().map(|a| a.to_string()).collect());
    within(Duration::from_secs(60), move || fails(&cwd, &args.iter().map(String::as_str).collect::<Vec<_>>()))
}

/// Replaces `from` by `to` in the file at `path`, which must hold it.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{}: no {from:?} in\n{text}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn weights_changed_at_the_same_size_are_refused_by_every_command() {
    let (s, run, r) = trained(&[]);
    let path = std::fs::canonicalize(run.join("last/model.safetensors")).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x40; // inside the last tensor's data
    std::fs::write(&path, bytes).unwrap();
    for args in
        [&["sample", &r, "--checkpoint", "last"][..], &["eval", &r, "--checkpoint", "last"], &["train", "--resume", &r]]
    {
        let err = fails_soon(s.path(), args);
        assert!(err.contains("model.safetensors: does not match its checksum in state.json"), "{args:?}: {err}");
    }
}

#[test]
fn a_model_section_edited_after_training_is_refused() {
    let (s, run, r) = trained(&["model.positions=\"rope\""]);
    edit(&run.join("config.toml"), "positions = \"rope\"", "positions = \"learned\"");
    for args in [&["sample", &r][..], &["train", "--resume", &r]] {
        let err = fails_soon(s.path(), args);
        assert!(err.contains("config.toml: [model] differs from the one"), "{args:?}: {err}");
        assert!(err.contains("positions = \"learned\" in the config, \"rope\" in the checkpoint"), "{err}");
    }
    let err = fails_soon(s.path(), &["train", "--resume", &r, "--set", "model.n_layer=3"]);
    assert!(err.contains("[model], [tokenizer] and [[sources]] cannot change"), "{err}");
    let err = fails_soon(s.path(), &["train", "--resume", &r, "--set", "train.optimizer=\"muon\""]);
    assert!(err.contains("train.optimizer cannot change when resuming"), "{err}");
}

#[test]
fn bad_state_values_are_named_and_metrics_kept() {
    let (s, run, r) = trained(&[]);
    let metrics = std::fs::read(run.join("metrics.jsonl")).unwrap();
    let state = run.join("last/state.json");
    let good = std::fs::read_to_string(&state).unwrap();
    for (from, to, want) in [
        ("\"step\": 20", "\"step\": -7", "`step` must not be negative, got -7"),
        ("\"step\": 20", "\"step\": 3", "`step` is 3, but the checkpoint folder is not step-000003"),
        ("\"elapsed_s\": ", "\"elapsed_s\": -", "`elapsed_s` must be a finite number, at least 0"),
    ] {
        std::fs::write(&state, good.replace(from, to)).unwrap();
        let err = fails_soon(s.path(), &["train", "--resume", &r]);
        assert!(err.contains("state.json") && err.contains(want), "{err}");
        assert_eq!(std::fs::read(run.join("metrics.jsonl")).unwrap(), metrics, "metrics.jsonl was changed");
    }
}

#[test]
fn checkpoints_of_older_versions_load_with_a_warning() {
    let (s, run, r) = trained(&[]);
    let state = run.join("last/state.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let fields = json.as_object_mut().unwrap();
    fields.remove("model").unwrap();
    fields.remove("checksums").unwrap();
    std::fs::write(&state, json.to_string()).unwrap();
    let out = autoreg(s.path(), &["sample", &r, "--checkpoint", "last", "--max-tokens", "5", "--out", "o"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: ") && stderr.contains("no `checksums` (a checkpoint from an older autoreg)"),
        "{stderr}"
    );
}

#[test]
fn links_to_another_run_are_refused_and_no_checkpoint_is_pruned_for_them() {
    let (s, run, r) = trained(&[]);
    let cfg = s.config("other", "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let other = s.run_dir("other");
    let own_best = std::fs::read_link(run.join("best")).unwrap();
    std::fs::remove_file(run.join("last")).unwrap();
    std::os::unix::fs::symlink(other.join("checkpoints/step-000020"), run.join("last")).unwrap();
    for args in [&["train", "--resume", &r][..], &["sample", &r, "--checkpoint", "last"]] {
        let err = fails_soon(s.path(), args);
        assert!(err.contains("last: points at") && err.contains("outside this run's checkpoints/"), "{args:?}: {err}");
    }
    assert!(run.join(own_best).join("model.safetensors").is_file(), "the run's best checkpoint is kept");
    assert!(other.join("checkpoints/step-000020/model.safetensors").is_file());
}

#[test]
fn numbers_out_of_range_are_named() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let cfg = cfg.to_str().unwrap();
    for (set, want) in [
        ("train.lr=inf", "train.lr must be a finite number > 0, got inf"),
        ("train.eps=nan", "train.eps must be a finite number > 0, got NaN"),
        ("train.eps=-1", "train.eps must be a finite number > 0, got -1"),
        ("train.weight_decay=nan", "train.weight_decay must be a finite number, at least 0, got NaN"),
        ("train.weight_decay=-100", "train.weight_decay must be a finite number, at least 0, got -100"),
        ("train.grad_clip=-1", "train.grad_clip must be a finite number, at least 0"),
        ("train.grad_clip=nan", "train.grad_clip must be a finite number, at least 0"),
        ("train.max_steps=-3", "train.max_steps must be at least 0, got -3"),
        ("train.warmup_steps=-1", "train.warmup_steps must be at least 0"),
        ("train.decay_steps=-1", "train.decay_steps must be at least 0"),
        ("train.eval_interval=0", "train.eval_interval must be at least 1"),
        ("train.batch_size=-4", "train.batch_size must be at least 1"),
        ("train.grad_accum=0", "train.grad_accum must be at least 1"),
        ("train.threads=100000", "train.threads must be at most 1024"),
        ("data.val_fraction=nan", "data.val_fraction must be in (0, 1), got NaN"),
        ("train.batch_size=10000000", "of memory but"),
    ] {
        let err = fails_soon(s.path(), &["train", cfg, "--set", set]);
        assert!(err.contains(want), "--set {set}: {err}");
    }
}

#[test]
fn fifos_link_loops_and_second_links_in_a_data_folder_are_skipped() {
    let s = Scratch::new();
    let data = s.path().join("data/set");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::copy(s.path().join("data/corpus.txt"), data.join("a.txt")).unwrap();
    std::fs::write(data.join("sub/b.txt"), "a lazy dog and a quick fox. ".repeat(100)).unwrap();
    std::os::unix::fs::symlink("..", data.join("sub/loop")).unwrap(); // back to set/
    std::os::unix::fs::symlink("a.txt", data.join("c.txt")).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(data.join("pipe.txt")).status().unwrap().success());
    let cfg = s.config("t", "");
    edit(&cfg, "split = \"tail\"", "split = \"files\"\nval_files = \"b.txt\"");
    let (cwd, cfg) = (s.path().to_owned(), cfg.to_str().unwrap().to_owned());
    let out = within(Duration::from_secs(120), move || autoreg(&cwd, &["train", &cfg, "--set", "data.path=set"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("pipe.txt: not a regular file"), "{stderr}");
    assert!(stderr.contains("c.txt: the same file as"), "{stderr}");
    assert!(stderr.contains("a folder already listed (a link loop or a second link)"), "{stderr}");
    // a.txt trains and b.txt validates, each once: 2 files, 1 + 1 documents.
    assert!(stderr.contains("data: 2 file(s), 1 train + 1 validation documents"), "{stderr}");
}

#[test]
fn a_token_cache_overwritten_with_other_valid_ids_is_not_trained_on() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let cfg = cfg.to_str().unwrap();
    ok(s.path(), &["train", cfg, "--set", "train.max_steps=0"]);
    let tokens: Vec<PathBuf> = std::fs::read_dir(s.path().join("cache"))
        .unwrap()
        .flatten()
        .flat_map(|entry| std::fs::read_dir(entry.path()).unwrap().flatten().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tokens"))
        .collect();
    assert_eq!(tokens.len(), 1);
    // Ids of the vocabulary (u16), at the same places: the size and structure do not tell.
    let mut bytes = std::fs::read(&tokens[0]).unwrap();
    bytes[200..600].chunks_mut(2).for_each(|t| t.copy_from_slice(&3u16.to_le_bytes()));
    std::fs::write(&tokens[0], bytes).unwrap();
    let out = autoreg(s.path(), &["train", cfg, "--set", "name=u", "--set", "train.max_steps=0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot be used") && stderr.contains("do not match its checksum"), "{stderr}");
    assert!(!stderr.contains("from the cache"), "{stderr}");
}

#[test]
fn resume_overrides_are_saved_with_their_history_and_progress_is_printed_without_a_terminal() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let out = autoreg(s.path(), &["train", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Standard error is a pipe here: every evaluation prints its line, with the rate.
    for step in [0, 10, 20] {
        let line = stderr.lines().find(|l| l.starts_with(&format!("step {step}: train loss ")));
        assert!(line.is_some_and(|l| l.ends_with(" tokens/s")), "{stderr}");
    }
    let run = s.run_dir("t");
    let r = run.to_str().unwrap();
    ok(s.path(), &["train", "--resume", r, "--set", "train.max_steps=30", "--set", "train.lr=5e-4"]);
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("max_steps = 30") && config.contains("lr = 0.0005"), "{config}");
    // The next resume starts from the saved overrides.
    ok(s.path(), &["train", "--resume", r]);
    assert!(ok(s.path(), &["info", r]).contains("last       step 30 "));
    let history = std::fs::read_to_string(run.join("config.history")).unwrap();
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 3, "{history}");
    assert!(lines[0].ends_with(&format!("Z train {}", cfg.display())), "{history}");
    assert!(lines[1].ends_with("Z train --resume --set train.max_steps=30 --set train.lr=5e-4"), "{history}");
    assert!(lines[2].ends_with("Z train --resume") && lines[2].starts_with("20"), "{history}");
}

#[test]
fn a_config_file_edited_before_a_resume_applies_as_set_would() {
    let (s, run, r) = trained(&[]);
    let cfg = s.path().join("t.toml");
    let cfg = cfg.to_str().unwrap();
    // The file's new max_steps is followed: the run goes on to step 26.
    edit(Path::new(cfg), "max_steps = 20", "max_steps = 26");
    let out = autoreg(s.path(), &["train", cfg, "--resume"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("resuming from step 20 to 26"), "{stderr}");
    assert!(std::fs::read_to_string(run.join("config.toml")).unwrap().contains("max_steps = 26"));
    // A change that cannot apply is refused, naming the file.
    edit(Path::new(cfg), "n_layer = 2", "n_layer = 3");
    let err = fails_soon(s.path(), &["train", cfg, "--resume"]);
    assert!(err.contains("[model], [tokenizer] and [[sources]] cannot change") && err.contains("t.toml"), "{err}");
    edit(Path::new(cfg), "n_layer = 3", "n_layer = 2");
    edit(Path::new(cfg), "split = \"tail\"", "split = \"tail\"\nval_fraction = 0.3");
    let err = fails_soon(s.path(), &["train", cfg, "--resume"]);
    assert!(err.contains("[data] cannot change"), "{err}");
    // A max_steps below the run's step says so.
    let out = autoreg(s.path(), &["train", "--resume", &r, "--set", "train.max_steps=3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is at step 26, train.max_steps = 3: nothing to train"), "{stderr}");
}

/// Waits (two minutes at most) until `path` exists, failing when `child` ends first.
fn wait_for(path: &Path, child: &mut std::process::Child) {
    let start = std::time::Instant::now();
    while std::fs::symlink_metadata(path).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("training ended ({status}) before {} was written", path.display());
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The step of the checkpoint the link `which` of `run` points at.
fn linked_step(run: &Path, which: &str) -> u64 {
    let target = std::fs::read_link(run.join(which)).unwrap();
    let name = target.file_name().unwrap().to_string_lossy().into_owned();
    name.trim_start_matches("step-").parse().unwrap()
}

#[test]
fn a_run_is_sampled_and_evaluated_while_it_trains_and_prunes_its_checkpoints() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let run = s.run_dir("t");
    let r = run.to_str().unwrap();
    // A checkpoint at every step, each removing the one before: `last` moves all the time.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_autoreg"))
        .current_dir(s.path())
        .args(["train", cfg.to_str().unwrap()])
        .args(["--set", "train.max_steps=1000000", "--set", "train.eval_interval=1", "--set", "train.eval_batches=1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&run.join("last"), &mut child);
    let first = linked_step(&run, "last");
    let reads = within(Duration::from_secs(600), {
        let (cwd, r) = (s.path().to_owned(), r.to_owned());
        move || {
            let mut failures = Vec::new();
            // Twenty samples of `last`, with an evaluation of each link after every fifth.
            for i in 0..30 {
                let args: &[&str] = match i % 6 {
                    4 => &["eval", &r, "--checkpoint", "last"],
                    5 => &["eval", &r],
                    _ => &["sample", &r, "--checkpoint", "last", "--num", "1", "--max-tokens", "8", "--out", "o"],
                };
                let out = autoreg(&cwd, args);
                if !out.status.success() {
                    failures.push(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)));
                }
            }
            failures
        }
    });
    let still_training = child.try_wait().unwrap().is_none();
    let last = linked_step(&run, "last");
    common::signal(&child, "INT");
    let (_, stderr) = common::finish(child, 120);
    assert!(reads.is_empty(), "{} of 30 reads failed:\n{}", reads.len(), reads.join("\n"));
    assert!(still_training, "the training ended during the reads:\n{stderr}");
    assert!(last > first + 20, "`last` moved from step {first} to {last} only: the reads did not race the pruning");
    assert!(stderr.contains("interrupted at step"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(run.join("checkpoints")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.len() <= 2, "old checkpoints were not removed: {left:?}");
}

#[test]
fn a_tokenizer_edited_after_training_is_refused_by_every_command() {
    let (s, run, r) = trained(&[]);
    let path = run.join("tokenizer.json");
    let good = std::fs::read_to_string(&path).unwrap();
    let state = std::fs::read_to_string(run.join("last/state.json")).unwrap();
    assert!(state.contains("\"tokenizer_checksum\""), "{state}");
    let want = format!("{}: does not match its checksum in state.json (edited after training?)", path.display());
    // Two letters swapped (the same vocabulary size, other meanings), or spaces alone.
    for (from, to) in [(" .abc", " .bac"), ("\"format\": 3", "\"format\":  3")] {
        edit(&path, from, to);
        for args in [
            &["sample", &r, "--checkpoint", "last", "--max-tokens", "5", "--out", "o"][..],
            &["eval", &r],
            &["train", "--resume", &r, "--set", "train.max_steps=30"],
            &["encode", &r, path.to_str().unwrap()],
        ] {
            let err = fails_soon(s.path(), args);
            assert!(err.contains(&want), "{args:?}: {err}");
        }
        std::fs::write(&path, &good).unwrap();
    }
    assert!(ok(s.path(), &["info", &r]).contains("last       step 20 "), "the resumes did not train");
    // Checkpoints written before the record load with the tokenizer as it is.
    edit(&path, "\"format\": 3", "\"format\":  3");
    for entry in std::fs::read_dir(run.join("checkpoints")).unwrap().flatten() {
        let state = entry.path().join("state.json");
        let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        json.as_object_mut().unwrap().remove("tokenizer_checksum").unwrap();
        std::fs::write(&state, json.to_string()).unwrap();
    }
    ok(s.path(), &["sample", &r, "--checkpoint", "last", "--max-tokens", "5", "--out", "o"]);
}
