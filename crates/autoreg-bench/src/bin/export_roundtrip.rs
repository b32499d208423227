//! `configs/shakespeare-char.toml` trained with GPT-2's options (learned positions, GELU,
//! no soft cap) at block 256, exported with `autoreg export`, and read back by the
//! Python packages of `cargo setup` (`tests/python/check_export.py`,
//! `tests/python/check_gguf.py`): transformers' logits beside autoreg's, greedy
//! `generate` of 200 tokens beside `autoreg sample --temperature 0`, AutoTokenizer's ids
//! beside autoreg's; every GGUF tensor beside the checkpoint's, and llama.cpp's logits
//! and greedy 200 tokens beside autoreg's.
//!
//! `AUTOREG_DATA=... cargo run --release -p autoreg-bench --bin export_roundtrip [-- STEPS]`

use anyhow::{Context, Result};
use autoreg::cli::{Cli, ModelArgs, Which};
use autoreg::commands;
use autoreg::run::load_run;
use autoreg_bench::{project_root, run_python};
use clap::Parser;
use std::path::Path;

const TEXT: &str = "ROMEO:\nWhat say you, my lord? Speak, and be brief.";
const PROMPT: &str = "ROMEO:";
const NEW_TOKENS: usize = 200;

/// Runs `autoreg ARGS`.
fn autoreg(args: &[&str]) -> Result<()> {
    commands::run(Cli::try_parse_from(std::iter::once("autoreg").chain(args.iter().copied()))?)
}

/// Runs `tests/python/SCRIPT` with `args`; returns its last line.
fn python(script: &str, args: &[&Path]) -> Result<String> {
    run_python(&format!("tests/python/{script}"), args)
}

fn main() -> Result<()> {
    let steps: usize = std::env::args().nth(1).map_or(Ok(2000), |s| s.parse()).context("STEPS")?;
    let dir = tempfile::tempdir()?;
    let path = |name: &str| dir.path().join(name).display().to_string();
    let config = project_root().join("configs/shakespeare-char.toml").display().to_string();
    let sets = [
        "model.positions=\"learned\"".to_owned(),
        "model.mlp=\"gelu\"".into(),
        "model.logit_softcap=0.0".into(),
        "model.block_size=256".into(),
        format!("train.max_steps={steps}"),
        format!("train.runs_dir={:?}", path("runs")),
    ];
    let mut train = vec!["train", config.as_str()];
    sets.iter().for_each(|s| train.extend(["--set", s.as_str()]));
    autoreg(&train)?;
    let run_dir = path("runs/shakespeare-char");
    let (hf, gguf) = (path("exported"), path("shakespeare-char.gguf"));
    autoreg(&["export", &run_dir, "--format", "hf", &hf])?;
    autoreg(&["export", &run_dir, "--format", "gguf", &gguf])?;

    let run = load_run(&ModelArgs { run_dir: run_dir.clone().into(), checkpoint: Which::Best, device: None })?;
    let (text, prompt) = (dir.path().join("text.txt"), dir.path().join("prompt.txt"));
    std::fs::write(&text, TEXT)?;
    std::fs::write(&prompt, PROMPT)?;
    let encode = |file: &Path| -> Result<Vec<u32>> {
        run.tokenizer.pipeline().encode_file(file)?.into_iter().next().context("no document")
    };
    let ids = encode(&text)?; // BOS text EOS
    let mut prompt_ids = encode(&prompt)?;
    prompt_ids.pop(); // its EOS
    let logits = dir.path().join("logits.safetensors");
    tch::Tensor::write_safetensors(&[("logits", run.logits(&ids))], &logits)?;
    let out = path("out");
    let new_tokens = NEW_TOKENS.to_string();
    let sample = ["sample", &run_dir, "--prompt", &path("prompt.txt"), "--temperature", "0", "--max-tokens"];
    autoreg(&[&sample[..], &[new_tokens.as_str(), "--num", "1", "--out", &out]].concat())?;
    let sampled = std::fs::read_to_string(Path::new(&out).join("shakespeare-char.txt"))?;
    let request = serde_json::json!({
        "ids": ids, "logits": logits, "prompt": prompt_ids, "new_tokens": NEW_TOKENS, "sampled": sampled, "text": TEXT,
    });
    let request_path = dir.path().join("request.json");
    std::fs::write(&request_path, request.to_string())?;
    let report: serde_json::Value =
        serde_json::from_str(&python("check_export.py", &[Path::new(&hf), &request_path])?)?;
    println!("transformers: {report}");
    let weights = std::fs::canonicalize(Path::new(&run_dir).join("best/model.safetensors"))?;
    let llama: serde_json::Value =
        serde_json::from_str(&python("check_gguf.py", &[Path::new(&gguf), &weights, &request_path])?)?;
    println!("gguf: {llama}");
    // autoreg's greedy tokens: the sample's ids after the prompt, without its EOS.
    let ours = encode(&Path::new(&out).join("shakespeare-char.txt"))?;
    let ours: Vec<u64> = ours[prompt_ids.len()..ours.len() - 1].iter().map(|&t| u64::from(t)).collect();
    let theirs: Vec<u64> = serde_json::from_value(llama["llama_greedy"].clone())?;
    let same = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let transformers_met = report["max_logit_difference"].as_f64().is_some_and(|d| d < 1e-4)
        && report["greedy_text_equal"] == true
        && report["encoded_equal"] == true;
    println!(
        "after {steps} steps: transformers' logits within {:.2e} of autoreg's (goal 1e-4), its greedy {} tokens {}, \
         AutoTokenizer's ids {}: {}",
        report["max_logit_difference"].as_f64().unwrap_or(f64::NAN),
        report["generated"],
        if report["greedy_text_equal"] == true { "identical" } else { "DIFFERENT" },
        if report["encoded_equal"] == true { "identical" } else { "DIFFERENT" },
        if transformers_met { "met" } else { "NOT met" }
    );
    println!(
        "llama.cpp: every GGUF tensor bit-exact: {}; logits within {:.2e}; greedy: the first {same} of autoreg's {} \
         tokens identical: {}",
        llama["differ"] == serde_json::json!([]),
        llama["llama_logit_difference"].as_f64().unwrap_or(f64::NAN),
        ours.len(),
        if same == ours.len() { "met" } else { "NOT met" }
    );
    Ok(())
}
