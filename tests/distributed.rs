//! Data-parallel training on c10d's Gloo backend, with 2 processes on localhost: the
//! ranks train the model one process would, a killed rank ends the run with an error
//! (never a hang) and the run resumes exactly, bad set-ups are refused, and torchrun
//! launches autoreg unchanged.

use crate::common;
use autoreg_dist::RankEnv;
use common::{Scratch, autoreg, finish, metrics, ok, signal, tensors, train_with, within};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The largest difference between the `last` weights of two runs.
fn weight_gap(a: &Path, b: &Path) -> f64 {
    let (a, b) = (tensors(&a.join("last/model.safetensors")), tensors(&b.join("last/model.safetensors")));
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|((na, ta), (nb, tb))| {
            assert_eq!(na, nb);
            (ta - tb).abs().max().double_value(&[])
        })
        .fold(0.0, f64::max)
}

/// The largest difference between the losses two runs logged, step by step.
fn loss_gap(a: &Path, b: &Path) -> f64 {
    let (a, b) = (metrics(a), metrics(b));
    assert_eq!(a.len(), b.len(), "the runs logged different numbers of evaluations");
    let mut gap: f64 = 0.0;
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["step"], y["step"]);
        for key in ["train_loss", "val_loss"] {
            gap = gap.max((x[key].as_f64().unwrap() - y[key].as_f64().unwrap()).abs());
        }
    }
    gap
}

fn sets(pairs: &[&str]) -> Vec<String> {
    pairs.iter().map(|s| s.to_string()).collect()
}

#[test]
fn two_ranks_train_the_model_one_process_trains() {
    let s = Scratch::new();
    // grad_accum 2: each rank takes a whole micro-batch; grad_accum 1: half the rows of it.
    for (name, accum) in [("micro", "2"), ("rows", "1")] {
        let cfg = s.config(name, "");
        let base = [format!("train.grad_accum={accum}")];
        train_with(s.path(), &cfg, &[&base[..], &sets(&[&format!("name={name}-1")])].concat());
        let out = ok(
            s.path(),
            &["train", cfg.to_str().unwrap(), "--nproc", "2", "--set", &base[0], "--set", &format!("name={name}-2")],
        );
        assert!(out.contains("step 20"), "{out}");
        let (one, two) = (s.run_dir(&format!("{name}-1")), s.run_dir(&format!("{name}-2")));
        let (losses, weights) = (loss_gap(&one, &two), weight_gap(&one, &two));
        eprintln!("{name}: losses differ by {losses:.2e}, weights by {weights:.2e}");
        assert!(losses <= 1e-4, "{name}: losses differ by {losses}");
        assert!(weights <= 1e-5, "{name}: weights differ by {weights}");
    }
}

/// Starts `autoreg train ARGS --nproc 2` with rank 1 held by the test hook after
/// optimizer step `step`; returns the launcher and rank 1's PID once it is there.
fn start_with_rank1_paused(cwd: &Path, args: &[&str], step: i64) -> (std::process::Child, u32) {
    let ready = cwd.join("rank1-paused");
    let mut child = Command::new(env!("CARGO_BIN_EXE_autoreg"))
        .current_dir(cwd)
        .args(args)
        .args(["--nproc", "2"])
        .env("AUTOREG_TEST_PAUSE", format!("step:{step}:{}", ready.display()))
        .env("AUTOREG_TEST_PAUSE_RANK", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(&ready).map_or(true, |t| t.trim().is_empty()) {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!("the run ended before step {step}:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(start.elapsed() < Duration::from_secs(120), "rank 1 never reached step {step}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = std::fs::read_to_string(&ready).unwrap().trim().parse().unwrap();
    (child, pid)
}

#[test]
fn a_killed_rank_ends_every_rank_and_two_ranks_resume_exactly() {
    let s = Scratch::new();
    let cfg = s.config("k", "");
    let c = cfg.to_str().unwrap();
    let steps = sets(&["train.max_steps=30", "train.eval_interval=10"]);
    train_with(s.path(), &cfg, &[&steps[..], &sets(&["name=whole"])].concat());

    let args = ["train", c, "--set", &steps[0], "--set", &steps[1], "--set", "name=killed"];
    let (launcher, rank1) = start_with_rank1_paused(s.path(), &args, 15);
    let status = Command::new("kill").args(["-9", &rank1.to_string()]).status().unwrap();
    assert!(status.success());
    // Rank 0 waits for rank 1 in the next all-reduce; it must not wait for the timeout.
    let start = Instant::now();
    let (status, stderr) = finish(launcher, 60);
    assert!(!status.success());
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
    assert!(stderr.contains("rank 1 was killed by signal 9; the other ranks were stopped"), "{stderr}");
    assert!(stderr.contains("rank 0 of 2: all-reduce failed: "), "{stderr}");

    let run = s.run_dir("killed");
    let out = ok(s.path(), &["train", "--resume", run.to_str().unwrap(), "--nproc", "2"]);
    assert!(out.contains("step 30"), "{out}");
    let whole = s.run_dir("whole");
    assert!(loss_gap(&whole, &run) <= 1e-4);
    let gap = weight_gap(&whole, &run);
    assert!(gap <= 1e-5, "weights differ by {gap}");
}

#[test]
fn ctrl_c_to_the_launcher_stops_every_rank_at_one_step_and_the_run_resumes_exactly() {
    let s = Scratch::new();
    let cfg = s.config("i", "");
    let steps = sets(&["train.max_steps=30", "train.eval_interval=10"]);
    train_with(s.path(), &cfg, &[&steps[..], &sets(&["name=whole"])].concat());

    // Rank 1 waits after step 15 for its Ctrl-C; rank 0 waits for rank 1.
    let args = ["train", cfg.to_str().unwrap(), "--set", &steps[0], "--set", &steps[1], "--set", "name=int"];
    let (launcher, _) = start_with_rank1_paused(s.path(), &args, 15);
    signal(&launcher, "INT");
    let (status, stderr) = finish(launcher, 60);
    assert!(!status.success());
    assert!(stderr.contains("rank 0 of 2: interrupted at step 15, which is saved"), "{stderr}");
    assert!(stderr.contains("rank 1 of 2: interrupted at step 15"), "{stderr}");
    assert!(stderr.contains("interrupted: every rank has stopped"), "{stderr}");

    let run = s.run_dir("int");
    assert!(ok(s.path(), &["info", run.to_str().unwrap()]).contains("last       step 15 "));
    ok(s.path(), &["train", "--resume", run.to_str().unwrap(), "--nproc", "2"]);
    let whole = s.run_dir("whole");
    assert!(loss_gap(&whole, &run) <= 1e-4);
    let gap = weight_gap(&whole, &run);
    assert!(gap <= 1e-5, "weights differ by {gap}");
}

/// Runs `autoreg train CONFIG` as one rank with `vars`; returns how long it took and
/// its standard error, failing the test on success or a hang.
fn rank_alone(cwd: &Path, config: &Path, vars: &[(&'static str, String)], sets: &[&str]) -> (Duration, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autoreg"));
    cmd.current_dir(cwd).args(["train", config.to_str().unwrap()]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    let (status, stderr) = finish(child, 60);
    assert!(!status.success(), "a rank alone trained:\n{stderr}");
    (start.elapsed(), stderr)
}

#[test]
fn bad_set_ups_get_a_clear_error_not_a_hang() {
    let s = Scratch::new();
    let cfg = s.config("bad", "");
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let job = |rank: usize| RankEnv::local(rank, 2, port).vars();
    let quick = ["train.dist_timeout_s=2"];

    let (_, err) = rank_alone(s.path(), &cfg, &job(2), &quick);
    assert!(err.contains("RANK: 2 is out of range: WORLD_SIZE = 2 allows 0 to 1"), "{err}");

    // A MASTER_PORT that nothing listens on: rank 1 gives up after the timeout.
    let (took, err) = rank_alone(s.path(), &cfg, &job(1), &quick);
    let want = format!("rank 1 of 2: joining the rendezvous at 127.0.0.1:{port} failed");
    assert!(err.contains(&want), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // A WORLD_SIZE that no other rank fills: rank 0 gives up after the timeout.
    let (took, err) = rank_alone(s.path(), &cfg, &job(0), &quick);
    assert!(err.contains("waiting for clients. 1/2 clients joined"), "{err}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(20), "took {took:?}");
    // Neither left a run behind that claims to be trained.
    assert!(!s.run_dir("bad").join("last").exists());

    let no_port: Vec<_> = job(0).into_iter().filter(|(k, _)| *k != "MASTER_PORT").collect();
    let (_, err) = rank_alone(s.path(), &cfg, &no_port, &[]);
    assert!(err.contains("MASTER_PORT: not set, but WORLD_SIZE is"), "{err}");

    // A world that cannot split the batch is refused before any rank starts.
    let out = autoreg(s.path(), &["train", cfg.to_str().unwrap(), "--nproc", "3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("3 ranks cannot split the global batch: train.grad_accum = 1 or train.batch_size = 4"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_autoreg"))
        .current_dir(s.path())
        .args(["train", cfg.to_str().unwrap(), "--nproc", "2"])
        .envs(job(0))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nproc starts its own ranks"));
}

/// The project's torchrun, installed with the torch wheel by `cargo setup`.
fn torchrun() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/torchrun");
    assert!(path.exists(), "{} is missing: run `cargo setup`", path.display());
    path
}

#[test]
fn torchrun_launches_autoreg_unchanged() {
    let s = Scratch::new();
    let cfg = s.config("tr", "");
    train_with(s.path(), &cfg, &sets(&["name=one"]));
    let mut cmd = Command::new(torchrun());
    cmd.current_dir(s.path())
        .args(["--standalone", "--nproc-per-node", "2", "--no-python", env!("CARGO_BIN_EXE_autoreg")])
        .args(["train", cfg.to_str().unwrap(), "--set", "name=torchrun"]);
    let out = within(Duration::from_secs(180), move || cmd.output().unwrap());
    assert!(out.status.success(), "torchrun failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let (one, two) = (s.run_dir("one"), s.run_dir("torchrun"));
    assert!(loss_gap(&one, &two) <= 1e-4);
    assert!(weight_gap(&one, &two) <= 1e-5);
}
