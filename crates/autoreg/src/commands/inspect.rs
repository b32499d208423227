//! `autoreg encode`, `decode` and `info`: look inside tokenizers and runs.

use crate::cli::{DecodeArgs, EncodeArgs, InfoArgs, RenderArgs};
use crate::config::Config;
use crate::registry::SavedTokenizer;
use anyhow::{Context, Result};
use autoreg_model::Mlp;
use autoreg_train::{MetricsLog, RunDir};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The tokenizer at `path`: a `tokenizer.json`, or the one in a run directory, checked
/// against the checksum its last checkpoint records when it has one.
fn load_tokenizer(path: &Path) -> Result<SavedTokenizer> {
    if !path.is_dir() {
        return Ok(SavedTokenizer::load(path)?);
    }
    let run = RunDir::new(path);
    if run.path().join("last").symlink_metadata().is_ok() {
        run.checkpoint("last")?.verify_tokenizer()?;
    }
    Ok(SavedTokenizer::load(&run.tokenizer_path())?)
}

/// Prints the tokens of a file, by name or id, one document per line.
pub fn encode(args: &EncodeArgs) -> Result<()> {
    let saved = load_tokenizer(&args.tokenizer)?;
    let tok = saved.pipeline();
    let mut out = std::io::stdout().lock();
    for doc in tok.encode_file(&args.file)? {
        let words: Vec<String> = doc
            .iter()
            .map(|&t| if args.ids { t.to_string() } else { tok.token_name(t).unwrap_or_else(|| t.to_string()) })
            .collect();
        writeln!(out, "{}", words.join(" "))?;
    }
    Ok(())
}

/// Decodes whitespace-separated token ids into a file.
pub fn decode(args: &DecodeArgs) -> Result<()> {
    let saved = load_tokenizer(&args.tokenizer)?;
    let mut text = String::new();
    if args.ids.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).context("cannot read token ids from standard input")?;
    } else {
        text = std::fs::read_to_string(&args.ids).with_context(|| format!("cannot read {}", args.ids.display()))?;
    }
    let ids = text
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| {
            w.parse::<u32>()
                .with_context(|| format!("{}: word {} ({w:?}) is not a token id", args.ids.display(), i + 1))
        })
        .collect::<Result<Vec<u32>>>()?;
    let decoded = saved.pipeline().decode(&ids)?;
    autoreg_tokens::write_atomic(&args.out, &decoded.bytes)?;
    let repairs = match decoded.repairs {
        0 => String::new(),
        n => format!(" ({n} ids broke the grammar or the vocabulary and were repaired or skipped)"),
    };
    eprintln!("wrote {}{repairs}", args.out.display());
    Ok(())
}

/// Describes a run directory.
pub fn info(args: &InfoArgs) -> Result<()> {
    let run = RunDir::new(&args.run_dir);
    let config = Config::load(&run.config_path(), &[])
        .with_context(|| format!("{} is not a run directory", args.run_dir.display()))?;
    let saved = SavedTokenizer::load(&run.tokenizer_path())?;
    let tok = saved.pipeline();
    let m = &config.model;
    println!("run        {}", run.path().display());
    if config.sources.is_empty() {
        println!("data       {}", config.data.path.display());
    }
    for source in &config.sources {
        let caption = source.caption.as_ref().map(|_| ", with captions").unwrap_or_default();
        println!("source     {} (weight {}): {}{caption}", source.name, source.weight, source.path.display());
    }
    println!("tokenizer  {} ({} tokens)", tok.kind(), tok.vocab_size());
    if let Some(parts) = tok.parts() {
        let listed: Vec<String> = (0..parts.count())
            .map(|i| format!("{} ({} ids)", parts.part(i).kind(), parts.part(i).vocab_size()))
            .collect();
        println!("modalities {} (--modality KIND, --text CAPTION)", listed.join(", "));
    }
    if let Some(bpe) = &saved.bpe {
        let base = tok.base.vocab_size();
        let split = String::from(bpe.split().clone());
        println!("bpe        {} merged ids after {base} base ids, split {split:?}", tok.vocab_size() - base);
    }
    if let Some(prompts) = tok.base.extras().prompts {
        let flag = if prompts.unit() == "frames" { "--prompt-frames (or --prompt-length)" } else { "--prompt-length" };
        println!("prompts    {flag} counts {}", prompts.unit());
    }
    let classes = tok.classes();
    if !classes.is_empty() {
        let listed: Vec<String> = classes.iter().enumerate().map(|(k, c)| format!("{k}={c}")).collect();
        println!("classes    {} (--class NAME or NUMBER): {}", classes.len(), listed.join(" "));
    }
    println!(
        "model      {} layers, {} heads, {} wide, context {}, {:?} positions",
        m.n_layer, m.n_head, m.n_embd, m.block_size, m.positions
    );
    let options: Vec<String> = [
        m.qk_norm.then(|| "qk_norm".to_owned()),
        (m.mlp != Mlp::Gelu).then(|| format!("mlp {:?}", m.mlp).to_lowercase()),
        (!m.tie_head).then(|| "untied head".to_owned()),
        m.zero_init.then(|| "zero_init".to_owned()),
        (m.logit_softcap > 0.0).then(|| format!("logit_softcap {}", m.logit_softcap)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !options.is_empty() {
        println!("options    {}", options.join(", "));
    }
    let records = MetricsLog::new(run.metrics_path()).read()?;
    for which in ["last", "best"] {
        let c = match run.checkpoint(which) {
            Ok(c) => c,
            Err(e) => {
                println!("{which:<10} none: {e}");
                continue;
            }
        };
        // Each checkpoint's own losses: a checkpoint saved on a stop and not evaluated
        // after (the process ended first) holds an earlier step's. Older checkpoints do
        // not say which step their losses are of: the metrics do.
        let own = |train: f64, val: f64| format!("train loss {train:.4}, val loss {val:.4}");
        let losses = match c.state.evaluated() {
            Some(true) => own(c.state.train_loss, c.state.val_loss),
            Some(false) => "not evaluated: the process ended between its save on a stop and its evaluation; \
                           a resume evaluates it"
                .to_owned(),
            None => match records.iter().rev().find(|r| r.step == c.state.step) {
                Some(r) => own(r.train_loss, r.val_loss),
                None if records.is_empty() => own(c.state.train_loss, c.state.val_loss),
                None => "not evaluated: saved on a stop".to_owned(),
            },
        };
        println!("{which:<10} step {} ({losses}) in {}", c.state.step, c.dir.display());
    }
    println!("metrics    {} evaluations in {}", records.len(), run.metrics_path().display());
    Ok(())
}

/// The folder that `render` writes to without `--out`, as `sample` does: `out/` in the
/// working folder, so that a read-only folder of MIDI files renders too.
const RENDER_OUT: &str = "out";

/// Writes the piano roll and the audio preview of a MIDI file into `--out` (default
/// [`RENDER_OUT`]), named after it: `tune.mid` gives `tune.png` and `tune.wav`.
pub fn render(args: &RenderArgs) -> Result<()> {
    let stem = args.file.file_stem().with_context(|| format!("{} names no file", args.file.display()))?;
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from(RENDER_OUT));
    let named = |ext: &str| {
        let mut name = stem.to_os_string();
        name.push(ext);
        dir.join(name)
    };
    let (png, wav) = (named(".png"), named(".wav"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the output folder {}", dir.display()))?;
    autoreg_midi::render_midi_file(&args.file, &png, &wav)?;
    eprintln!("wrote {}\nwrote {}", png.display(), wav.display());
    Ok(())
}
