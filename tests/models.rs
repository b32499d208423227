//! Models in and out: a `transformers` GPT-2 imported, sampled, evaluated and
//! fine-tuned; a trained run exported to `transformers` and GGUF and read back there by
//! the Python packages that `cargo setup` installs (`transformers`, `gguf`).

use crate::common::{Scratch, autoreg, fails, metrics, ok, shared_data, tensors, tiny_config, train_with};
use autoreg::cli::{ModelArgs, Which};
use autoreg::model::NativeModel;
use autoreg::run::{LoadedRun, load_run};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs a script of `tests/python/` with the venv's Python, expecting success; returns
/// its standard output.
fn python(script: &str, args: &[&Path]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/python").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the venv's python (run `cargo setup`): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first `bytes` of tiny shakespeare (carried by the project), in `dir/name`.
fn shakespeare(dir: &Path, name: &str, bytes: usize) -> PathBuf {
    let text = std::fs::read(shared_data("tinyshakespeare/input.txt")).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &text[..bytes]).unwrap();
    path
}

fn load(run: &Path) -> LoadedRun {
    load_run(&ModelArgs { run_dir: run.to_path_buf(), checkpoint: Which::Best, device: None }).unwrap()
}

/// The native decoder's logits on `ids`, fed one at a time through its cache: (T, V).
fn native_logits(run: &LoadedRun, ids: &[u32]) -> tch::Tensor {
    let native = NativeModel::new(&run.model, autoreg::model::Weights::F32).unwrap();
    let mut cache = native.new_cache(1);
    let rows: Vec<tch::Tensor> = ids
        .iter()
        .map(|&id| tch::Tensor::from_slice(&native.forward(&[id], 1, &mut cache, 1, autoreg::model::Readout::Last)))
        .collect();
    tch::Tensor::stack(&rows, 0)
}

/// The largest difference between `ours` (T, V) and `theirs` (T, V'), column `a` of
/// ours against column `columns[a]` of theirs.
fn max_difference(ours: &tch::Tensor, theirs: &tch::Tensor, columns: &[i64]) -> f64 {
    let theirs = theirs.index_select(1, &tch::Tensor::from_slice(columns));
    (ours - theirs).abs().max().double_value(&[])
}

/// Exports the text run `runs/NAME` of `s` to `NAME-hf` and has `check_export.py` load it
/// in transformers: on `text`, its logits must be autoreg's within 1e-4 and
/// AutoTokenizer's ids autoreg's; from `prompt`, greedy `generate` of `new_tokens` must
/// write what `autoreg sample --temperature 0` writes. Returns the report.
fn export_and_check(s: &Scratch, name: &str, text: &str, prompt: &str, new_tokens: usize) -> serde_json::Value {
    let run = format!("runs/{name}");
    let folder = s.path().join(format!("{name}-hf"));
    ok(s.path(), &["export", &run, "--format", "hf", folder.to_str().unwrap()]);
    std::fs::write(s.path().join("text.txt"), text).unwrap();
    std::fs::write(s.path().join("prompt.txt"), prompt).unwrap();
    let encode = |file: &str| -> Vec<u32> {
        let out = ok(s.path(), &["encode", &run, file, "--ids"]);
        out.split_whitespace().map(|t| t.parse().unwrap()).collect()
    };
    let ids = encode("text.txt"); // BOS text EOS
    let mut prompt = encode("prompt.txt");
    prompt.pop(); // its EOS
    let logits = s.path().join("logits.safetensors");
    tch::Tensor::write_safetensors(&[("logits", load(&s.run_dir(name)).logits(&ids))], &logits).unwrap();
    let new = new_tokens.to_string();
    ok(s.path(), &["sample", &run, "--prompt", "prompt.txt", "--temperature", "0", "--max-tokens", &new, "--num", "1"]);
    let sampled = std::fs::read_to_string(s.path().join(format!("out/{name}.txt"))).unwrap();
    let request = serde_json::json!({
        "ids": ids, "logits": logits, "prompt": prompt, "new_tokens": new_tokens, "sampled": sampled, "text": text,
    });
    std::fs::write(s.path().join("request.json"), request.to_string()).unwrap();
    let report = python("check_export.py", &[&folder, &s.path().join("request.json")]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(report["max_logit_difference"].as_f64().unwrap() < 1e-4, "{report}");
    assert_eq!(report["encoded_equal"], true, "{report}");
    assert_eq!(report["greedy_text_equal"], true, "{report}\nautoreg: {sampled:?}");
    report
}

#[test]
fn an_imported_gpt2_gives_transformers_logits_samples_evaluates_and_fine_tunes() {
    let s = Scratch::new();
    let text = shakespeare(s.path(), "shakespeare.txt", 100_000);
    let folder = s.path().join("gpt2-tiny");
    python("make_gpt2.py", &[&folder, &text]);
    let out = ok(s.path(), &["import", "hf", "gpt2-tiny", "--name", "gpt2"]);
    assert!(out.contains("2 layers, 64 wide, 64 positions, vocabulary 402 (400 ids"), "{out}");
    let info = ok(s.path(), &["info", "runs/gpt2"]);
    assert!(
        info.contains("step 0 (imported from gpt2-tiny, not evaluated)") && info.contains("mlp gelu_tanh"),
        "{info}"
    );
    ok(s.path(), &["report", "runs/gpt2"]);

    // The same logits as transformers on the same tokens, through both decoders. autoreg
    // numbers the tokens its own way (bytes by value, then <bos> <eos> <pad>, then the
    // merges): the tokenizers' vocabularies pair the ids.
    let run = load(&s.run_dir("gpt2"));
    let reference = tensors(&folder.join("reference.safetensors"));
    let (ids, logits) = (&reference[0].1, reference[1].1.select(0, 0)); // ids (1, T), logits (T, V)
    let theirs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("tokenizer.json")).unwrap()).unwrap();
    let ours = run.tokenizer.bpe.as_ref().unwrap().hf_json();
    let id_of = |json: &serde_json::Value, token: &str| json["model"]["vocab"][token].as_u64();
    let mut source = vec![0i64; 402];
    for (token, id) in ours["model"]["vocab"].as_object().unwrap() {
        let id = id.as_u64().unwrap() as usize;
        // <bos>, <eos> and <pad> are GPT-2's end of text.
        let token = if (256..259).contains(&id) { "<|endoftext|>" } else { token };
        source[id] = id_of(&theirs, token).unwrap() as i64;
    }
    let target: HashMap<i64, u32> = source.iter().enumerate().map(|(a, &g)| (g, a as u32)).collect();
    let ids: Vec<u32> = Vec::<i64>::try_from(ids.view([-1])).unwrap().iter().map(|g| target[g]).collect();
    let torch = max_difference(&run.logits(&ids), &logits, &source);
    let native = max_difference(&native_logits(&run, &ids), &logits, &source);
    assert!(torch < 1e-4 && native < 1e-4, "largest difference: libtorch {torch}, native {native}");

    // Sampling and evaluation work on it as on any run.
    let out = autoreg(s.path(), &["sample", "runs/gpt2", "--max-tokens", "20", "--num", "1", "--seed", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.path().join("out/gpt2.txt").is_file());
    let eval = ok(s.path(), &["eval", "runs/gpt2", "--data", "shakespeare.txt", "--no-baselines"]);
    assert!(eval.contains("transformer, stride 32"), "{eval}");
    let err = fails(s.path(), &["eval", "runs/gpt2"]);
    assert!(err.contains("has no data of its own (an imported run): give --data PATH"), "{err}");

    // Fine-tuning on new data from its weights, at a smaller block: the loss falls. A run
    // that starts from the fine-tuned one starts where that one ended.
    let config = s.path().join("ft.toml");
    let cfg = |name: &str, steps: u32| {
        format!(
            "name = \"{name}\"\n[data]\nroot = \"{root}\"\npath = \"shakespeare.txt\"\nsplit = \"tail\"\n\
             cache_dir = \"{root}/cache\"\n[model]\nblock_size = 32\n[train]\nmax_steps = {steps}\nbatch_size = 8\n\
             lr = 3e-3\nwarmup_steps = 2\neval_interval = 20\neval_batches = 4\nthreads = 1\n",
            root = s.path().display()
        )
    };
    std::fs::write(&config, cfg("ft", 60)).unwrap();
    train_with(s.path(), &config, &["model.init_from=\"runs/gpt2\"".into()]);
    let losses: Vec<f64> = metrics(&s.run_dir("ft")).iter().map(|m| m["val_loss"].as_f64().unwrap()).collect();
    assert!(losses[losses.len() - 1] < losses[0] - 0.3, "the validation loss falls: {losses:?}");
    let saved = std::fs::read_to_string(s.run_dir("ft/config.toml")).unwrap();
    assert!(saved.contains("mlp = \"gelu_tanh\"") && saved.contains("block_size = 32"), "{saved}");
    std::fs::write(s.path().join("again.toml"), cfg("again", 1)).unwrap();
    ok(s.path(), &["train", "again.toml", "--init-from", "runs/ft"]);
    let start = metrics(&s.run_dir("again"))[0]["val_loss"].as_f64().unwrap();
    assert!((start - losses[losses.len() - 1]).abs() < 0.05, "starts at {start}, the source ended at {losses:?}");

    // The fine-tuned model goes back out, with GPT-2's byte-level BPE (autoreg's ids).
    export_and_check(&s, "ft", "Whither away so fast? Upon my life,", "Whither", 20);

    // Its shape is its source's.
    let err = fails(s.path(), &["train", "again.toml", "--init-from", "runs/ft", "--set", "model.n_layer=3"]);
    assert!(err.contains("model.n_layer = 3, but the run keeps the [model] of runs/ft, where it is 2"), "{err}");
}

#[test]
fn a_trained_run_exports_to_transformers_and_gguf_which_read_it_back() {
    let s = Scratch::new();
    shakespeare(&s.path().join("data"), "corpus.txt", 60_000);
    // A character model with GPT-2's options, autoreg's defaults: learned positions, GELU.
    let config = s.config("chars", "");
    let sets = ["model.block_size=256", "train.max_steps=60", "train.lr=3e-3"].map(String::from);
    train_with(s.path(), &config, &sets);
    let run = load(&s.run_dir("chars"));

    let report = export_and_check(&s, "chars", "ROMEO:\nWhat say you, my lord?", "ROMEO:", 200);
    let generated = report["generated"].as_u64().unwrap();
    assert!(generated == 200 || report["generated_text"].as_str().unwrap().len() < 206, "{report}");

    // GGUF: llama.cpp's reader finds every tensor bit for bit, and llama.cpp computes
    // autoreg's logits (its GELU is a tanh approximation read from an f16 table, so not to
    // the last bits) and picks the same 200 tokens greedily.
    ok(s.path(), &["export", "runs/chars", "--format", "gguf", "chars.gguf"]);
    let weights = std::fs::canonicalize(s.run_dir("chars/best/model.safetensors")).unwrap();
    let (gguf, request) = (s.path().join("chars.gguf"), s.path().join("request.json"));
    let args: [&Path; 3] = [&gguf, &weights, &request];
    let report: serde_json::Value = serde_json::from_str(&python("check_gguf.py", &args)).unwrap();
    assert!(report["llama_logit_difference"].as_f64().unwrap() < 5e-2, "{report}");
    let ids = |file: &str| -> Vec<u64> {
        let out = ok(s.path(), &["encode", "runs/chars", file, "--ids"]);
        out.split_whitespace().map(|t| t.parse().unwrap()).collect()
    };
    let (prompt, ours) = (ids("prompt.txt"), ids("out/chars.txt")); // BOS ... EOS each
    let generated = &ours[prompt.len() - 1..ours.len() - 1];
    let theirs: Vec<u64> = serde_json::from_value(report["llama_greedy"].clone()).unwrap();
    assert_eq!(generated, &theirs[..generated.len()], "llama.cpp's greedy tokens are autoreg's");
    if generated.len() < theirs.len() {
        assert_eq!(theirs[generated.len()], ours[ours.len() - 1], "both end the sample");
    }
    assert_eq!(report["architecture"], "gpt2");
    assert_eq!(report["tokens"], run.tokenizer.pipeline().vocab_size());
    assert_eq!((report["block_count"].as_u64(), report["context_length"].as_u64()), (Some(2), Some(256)));
    assert_eq!(report["differ"], serde_json::json!([]), "{report}");
    assert_eq!(report["unexpected"], serde_json::json!([]), "{report}");

    // A run that GPT-2 cannot express is refused, with the option named.
    train_with(
        s.path(),
        &config,
        &["name=\"rope\"".into(), "model.positions=\"rope\"".into(), "train.max_steps=1".into()],
    );
    let err = fails(s.path(), &["export", "runs/rope", "--format", "hf", "rope-hf"]);
    assert!(err.contains("model.positions = \"rope\" has no GPT-2 form"), "{err}");
    assert!(!s.path().join("rope-hf").exists());
}

#[test]
fn a_midi_run_exports_its_weights_with_autoregs_own_tokenizer() {
    // Music, with an untied head and no biases: transformers computes its logits too.
    let s = Scratch::new();
    let melodies = s.path().join("data/melody");
    std::fs::create_dir_all(&melodies).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared_data("nottingham/melody"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    for file in &files[..6] {
        std::fs::copy(file, melodies.join(file.file_name().unwrap())).unwrap();
    }
    let data = "path = \"melody\"\nsplit = \"files\"\nval_fraction = 0.34";
    let config = tiny_config(s.path(), &s.path().join("data"), "tunes", data, "kind = \"midi\"", 64, "");
    train_with(s.path(), &config, &["model.tie_head=false".into(), "train.max_steps=5".into()]);
    let out = ok(s.path(), &["export", "runs/tunes", "--format", "hf", "tunes-hf"]);
    assert!(out.contains("the midi tokens are autoreg's own: autoreg-tokenizer.json"), "{out}");
    let folder = s.path().join("tunes-hf");
    assert!(folder.join("autoreg-tokenizer.json").is_file() && !folder.join("tokenizer.json").exists());
    // The exported tokenizer file is the run's: it encodes a tune to the same ids.
    let tune = melodies.join(files[0].file_name().unwrap());
    let tune = tune.to_str().unwrap();
    let ids = ok(s.path(), &["encode", "runs/tunes", tune, "--ids"]);
    assert_eq!(ok(s.path(), &["encode", "tunes-hf/autoreg-tokenizer.json", tune, "--ids"]), ids);
    let ids: Vec<u32> = ids.lines().next().unwrap().split_whitespace().take(64).map(|t| t.parse().unwrap()).collect();
    let logits = s.path().join("logits.safetensors");
    tch::Tensor::write_safetensors(&[("logits", load(&s.run_dir("tunes")).logits(&ids))], &logits).unwrap();
    std::fs::write(s.path().join("request.json"), serde_json::json!({"ids": ids, "logits": logits}).to_string())
        .unwrap();
    let report = python("check_export.py", &[&folder, &s.path().join("request.json")]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(report["max_logit_difference"].as_f64().unwrap() < 1e-4, "{report}");
}

#[test]
fn model_folders_that_are_not_gpt2_get_clear_errors() {
    let s = Scratch::new();
    let text = shakespeare(s.path(), "shakespeare.txt", 20_000);
    let folder = s.path().join("good");
    python("make_gpt2.py", &[&folder, &text]);
    let copy = |name: &str| {
        let dir = s.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::copy(folder.join(file), dir.join(file)).unwrap();
        }
        dir
    };
    let edit_config = |dir: &Path, key: &str, value: serde_json::Value| {
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        config[key] = value;
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    };

    let llama = copy("llama");
    edit_config(&llama, "model_type", "llama".into());
    let err = fails(s.path(), &["import", "hf", "llama"]);
    assert!(err.contains("config.json: `model_type` is \"llama\": autoreg imports GPT-2 models only"), "{err}");

    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join("model.safetensors")).unwrap();
    std::fs::write(truncated.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(s.path(), &["import", "hf", "truncated"]);
    assert!(err.contains("truncated/model.safetensors: cannot be read"), "{err}");

    let other_vocab = copy("other-vocab");
    edit_config(&other_vocab, "vocab_size", 500.into());
    let err = fails(s.path(), &["import", "hf", "other-vocab"]);
    assert!(err.contains("tokenizer.json: 400 ids, but config.json's vocab_size is 500"), "{err}");

    let activation = copy("activation");
    edit_config(&activation, "activation_function", "relu".into());
    let err = fails(s.path(), &["import", "hf", "activation"]);
    assert!(err.contains("`activation_function` \"relu\""), "{err}");

    let empty = s.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = fails(s.path(), &["import", "hf", "empty"]);
    assert!(err.contains("empty/config.json"), "{err}");
    assert!(!s.run_dir("empty").exists() && !s.run_dir("llama").exists(), "nothing is written");
}
