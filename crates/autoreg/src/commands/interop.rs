//! `autoreg import hf` and `autoreg export`: models in from `transformers`' GPT-2
//! folders, and out to such folders and to GGUF files for llama.cpp.

use crate::cli::{ExportArgs, ExportFormat, ImportCommand, ImportHfArgs};
use crate::config::{Config, check_name};
use crate::registry::{ModalityConfig, SavedTokenizer, TokenizerConfig};
use crate::run::{self, LoadedRun, load_run};
use anyhow::{Context, Result, bail};
use autoreg_bpe::{Bpe, BpeConfig, byte_level_spelling, hf_tokenizer, spellings};
use autoreg_data::{DataConfig, SplitMode};
use autoreg_hf::gguf::{self, Value, Vocabulary};
use autoreg_hf::{Gpt2Config, HfError, exportable, from_hf, read_weights, to_gguf, to_hf};
use autoreg_model::DeviceChoice;
use autoreg_text::{Level, TextConfig};
use autoreg_tokens::write_atomic;
use autoreg_train::{RunDir, TrainConfig, TrainState, build_model};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `autoreg import`.
pub fn import(command: &ImportCommand) -> Result<()> {
    match command {
        ImportCommand::Hf(args) => import_hf(args).map(|_| ()),
    }
}

/// Reads a `transformers` GPT-2 folder (`config.json`, `model.safetensors` or
/// `pytorch_model.bin`, `tokenizer.json`) into a new run directory: its weights as the
/// checkpoint of step 0, its tokenizer as byte-level text and BPE. Returns the run.
pub fn import_hf(args: &ImportHfArgs) -> Result<RunDir> {
    let dir = &args.dir;
    if !dir.is_dir() {
        bail!("{}: not a folder (a transformers GPT-2 folder holds config.json and the weights)", dir.display());
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => {
            let full = dir.canonicalize().with_context(|| format!("cannot open {}", dir.display()))?;
            full.file_name().map_or_else(|| "gpt2".to_owned(), |n| n.to_string_lossy().into_owned())
        }
    };
    check_name(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let hf = Gpt2Config::read(&dir.join("config.json"))?;
    let model = hf.to_model().map_err(|e| HfError::file(dir.join("config.json"), e))?;

    let tokenizer_path = dir.join("tokenizer.json");
    let json = std::fs::read_to_string(&tokenizer_path)
        .with_context(|| format!("cannot read {}", tokenizer_path.display()))?;
    let text =
        TokenizerConfig { modality: ModalityConfig::Text(TextConfig { level: Level::Byte }), codec: None, bpe: None };
    let base = text.fit(&[])?.base;
    let (bpe, rows, source_vocab) =
        Bpe::import_hf(&json, base.as_dyn()).map_err(|e| HfError::file(&tokenizer_path, e))?;
    if source_vocab != hf.vocab_size as usize {
        bail!(
            "{}: {source_vocab} ids, but config.json's vocab_size is {}: the tokenizer is not the model's",
            tokenizer_path.display(),
            hf.vocab_size
        );
    }
    let tokenizer = SavedTokenizer::new(base, Some(bpe)).map_err(anyhow::Error::msg)?;
    let vocab = tokenizer.pipeline().vocab_size();

    let (weights_path, named) = read_weights(dir)?;
    let tensors = from_hf(named, &weights_path, &model, hf.vocab_size, &rows)?;
    let train = TrainConfig::default();
    let (vs, _gpt) = build_model(&model, &train, DeviceChoice::Cpu, vocab)?;
    let variables = vs.variables();
    for (name, tensor) in &tensors {
        let mut var = variables.get(name).with_context(|| format!("the model has no `{name}`"))?.shallow_clone();
        tch::no_grad(|| var.f_copy_(tensor)).with_context(|| format!("{}: `{name}`", weights_path.display()))?;
    }

    let config = Config {
        name: name.clone(),
        data: DataConfig { split: SplitMode::Tail, ..DataConfig::default() },
        tokenizer: Some(TokenizerConfig {
            bpe: Some(BpeConfig { vocab_size: vocab, min_frequency: 2, split: None }),
            ..text
        }),
        sources: Vec::new(),
        model: model.clone(),
        train: train.clone(),
        sample: Default::default(),
    };
    let run = RunDir::new(config.run_dir());
    if run.path().join("last").symlink_metadata().is_ok() {
        bail!("{} already holds a run: import under another name (--name NAME)", run.path().display());
    }
    let lock = run.lock()?;
    run::write_new(lock.run(), &config, &tokenizer)?;
    // No optimizer state: a run that starts from this one makes its own.
    let state = TrainState { imported_from: Some(dir.display().to_string()), ..TrainState::default() };
    run.save(&vs, None, &state, &model, true)?;
    run::record_history(&run, &format!("import hf {}", dir.display()), &[])?;
    println!(
        "{}: {} layers, {} wide, {} positions, vocabulary {vocab} ({} ids in {}, its end of text as <bos>, <eos> and \
         <pad>), {:.1}M parameters",
        run.path().display(),
        model.n_layer,
        model.n_embd,
        model.block_size,
        hf.vocab_size,
        tokenizer_path.display(),
        model.num_params(vocab) / 1e6,
    );
    Ok(run)
}

/// `autoreg export RUN --format hf|gguf OUT`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let run = load_run(&args.model)?;
    exportable(&run.config.model)?;
    let vars: HashMap<String, tch::Tensor> = run.vs.variables();
    match args.format {
        ExportFormat::Hf => export_hf(&run, &vars, &args.out),
        ExportFormat::Gguf => export_gguf(&run, &vars, &args.out),
    }
}

/// The ids of `<bos>`, `<eos>` and `<pad>`.
fn specials(run: &LoadedRun) -> [u32; 3] {
    let s = run.tokenizer.pipeline().specials();
    [s.bos, s.eos, s.pad]
}

/// The `tokenizer.json` of `transformers` for the run's ids, when its tokens are text.
fn text_tokenizer(run: &LoadedRun) -> Result<Option<serde_json::Value>> {
    if run.tokenizer.has_stages() && run.tokenizer.bpe.is_none() {
        return Ok(None);
    }
    hf_tokenizer(run.tokenizer.base.as_dyn(), run.tokenizer.bpe.as_ref()).map_err(anyhow::Error::msg)
}

/// Writes a `transformers` folder: `config.json`, `model.safetensors`, and the
/// tokenizer: `tokenizer.json` and `tokenizer_config.json` when the run's tokens are
/// text, autoreg's own `autoreg-tokenizer.json` always. The folder is written beside
/// `out` and renamed into place.
fn export_hf(run: &LoadedRun, vars: &HashMap<String, tch::Tensor>, out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        bail!("{}: exists and is not a folder", out.display());
    }
    let tmp = temporary(out)?;
    let written = write_hf(run, vars, &tmp).and_then(|summary| replace_dir(&tmp, out).map(|()| summary));
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    println!("{}: {}", out.display(), written?);
    Ok(())
}

/// Writes the files of [`export_hf`] into the folder `dir`; returns what was written.
fn write_hf(run: &LoadedRun, vars: &HashMap<String, tch::Tensor>, dir: &Path) -> Result<String> {
    let vocab = run.tokenizer.pipeline().vocab_size() as i64;
    let [bos, eos, pad] = specials(run);
    let config = Gpt2Config::from_model(&run.config.model, vocab, [bos, eos, pad])?;
    let write = |name: &str, bytes: &[u8]| write_atomic(&dir.join(name), bytes).map_err(anyhow::Error::from);
    write("config.json", &serde_json::to_vec_pretty(&config)?)?;
    let tensors = to_hf(vars, &run.config.model)?;
    tch::Tensor::write_safetensors(&tensors, dir.join("model.safetensors"))
        .with_context(|| format!("cannot write {}", dir.join("model.safetensors").display()))?;
    write("autoreg-tokenizer.json", &std::fs::read(run.dir.tokenizer_path())?)?;
    let text = text_tokenizer(run)?;
    if let Some(tokenizer) = &text {
        let name = |id: u32| run.tokenizer.pipeline().token_name(id).unwrap_or_else(|| format!("<{id}>"));
        let tokenizer_config = serde_json::json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": name(bos),
            "eos_token": name(eos),
            "pad_token": name(pad),
            "model_max_length": run.config.model.block_size,
            "clean_up_tokenization_spaces": false,
        });
        write("tokenizer.json", &serde_json::to_vec(tokenizer)?)?;
        write("tokenizer_config.json", &serde_json::to_vec_pretty(&tokenizer_config)?)?;
    }
    let parameters = tensors.iter().map(|(_, t)| t.numel()).sum::<usize>();
    Ok(match text {
        Some(_) => format!("GPT2LMHeadModel, {parameters} parameters, tokenizer.json (AutoTokenizer)"),
        None => format!(
            "GPT2LMHeadModel, {parameters} parameters; the {} tokens are autoreg's own: autoreg-tokenizer.json, read \
             by `autoreg encode` and `autoreg decode`",
            run.tokenizer.base.as_dyn().kind()
        ),
    })
}

/// Writes a GGUF file of llama.cpp's GPT-2 architecture, all f32, with the run's
/// vocabulary in llama.cpp's `gpt2` form (byte-level BPE with its merges when the
/// tokens are bytes) and autoreg's own tokenizer file under `autoreg.tokenizer`.
fn export_gguf(run: &LoadedRun, vars: &HashMap<String, tch::Tensor>, out: &Path) -> Result<()> {
    // llama.cpp's GPT-2 vocabulary, of the model's size: each id's string in GPT-2's
    // byte-level alphabet (a character-level run's characters by their UTF-8 bytes), the
    // tokenizer's added tokens (specials, classes) as control tokens, and for ids that
    // are not text autoreg's token names (llama.cpp then runs the model on ids).
    let pipeline = run.tokenizer.pipeline();
    let hf = text_tokenizer(run)?;
    let (spelled, added, merges) = hf.as_ref().map(spellings).unwrap_or_default();
    let byte_level = hf.as_ref().is_some_and(|t| t["pre_tokenizer"]["type"] == "ByteLevel");
    let ids = 0..pipeline.vocab_size() as u32;
    let tokens = ids
        .clone()
        .map(|id| match (spelled.get(&id), added.get(&id)) {
            (Some(s), _) if byte_level => Ok(s.clone()),
            (Some(s), _) => byte_level_spelling(s.as_bytes()).map_err(anyhow::Error::msg),
            (None, Some(s)) => Ok(s.clone()),
            (None, None) => Ok(pipeline.token_name(id).unwrap_or_else(|| format!("<{id}>"))),
        })
        .collect::<Result<Vec<String>>>()?;
    let control = ids.map(|id| added.contains_key(&id) || pipeline.specials().contains(id)).collect();
    let vocabulary = Vocabulary { tokens, control, merges, specials: specials(run) };
    let mut metadata = gguf::gpt2_metadata(&run.config.model, &run.config.name, vocabulary);
    let own = std::fs::read_to_string(run.dir.tokenizer_path())?;
    metadata.push(("autoreg.tokenizer".into(), Value::Str(own)));
    let tensors = to_gguf(vars, &run.config.model)?;
    gguf::write(out, &metadata, &tensors)?;
    println!("{}: GGUF, gpt2, {} tensors, vocabulary {}", out.display(), tensors.len(), pipeline.vocab_size());
    Ok(())
}

/// A fresh temporary folder beside `out`.
fn temporary(out: &Path) -> Result<PathBuf> {
    let name = out.file_name().with_context(|| format!("{}: not a folder name", out.display()))?;
    let tmp = out.with_file_name(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("cannot remove {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    Ok(tmp)
}

/// Puts the complete folder `tmp` at `out`, replacing a folder there.
fn replace_dir(tmp: &Path, out: &Path) -> Result<()> {
    if out.is_dir() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot replace {}", out.display()))?;
    }
    std::fs::rename(tmp, out).with_context(|| format!("cannot write {}", out.display()))
}
