//! `autoreg encode`, `decode` and `info`: look inside tokenizers and runs.

use crate::cli::{DecodeArgs, EncodeArgs, InfoArgs, RenderArgs};
use crate::registry::SavedTokenizer;
use crate::run;
use crate::sources::Inputs;
use anyhow::{Context, Result};
use autoreg_model::Mlp;
use autoreg_train::{MetricsLog, RunDir};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The tokenizer at `path`: a `tokenizer.json`, or the one of a run directory.
fn load_tokenizer(path: &Path) -> Result<SavedTokenizer> {
    match path.is_dir() {
        true => run::read_tokenizer(&RunDir::new(path)),
        false => Ok(SavedTokenizer::load(path)?),
    }
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
    let config = run::read_config(&run)?;
    let saved = SavedTokenizer::load(&run.tokenizer_path())?;
    let tok = saved.pipeline();
    let m = &config.model;
    println!("run        {}", run.path().display());
    match config.inputs() {
        Inputs::One(source) => println!("data       {}", source.data.path.display()),
        Inputs::Mixed(sources) => {
            for source in sources {
                let caption = source.caption.as_ref().map(|_| ", with captions").unwrap_or_default();
                println!(
                    "source     {} (weight {}): {}{caption}",
                    source.name,
                    source.weight,
                    source.data.path.display()
                );
            }
        }
    }
    println!("tokenizer  {} ({} tokens)", tok.kind(), tok.vocab_size());
    if let Some(parts) = tok.parts() {
        let listed: Vec<String> = (0..parts.count())
            .map(|i| {
                let part = parts.part(i);
                match part.vocab_size() - part.base.vocab_size() {
                    0 => format!("{} ({} ids)", part.kind(), part.vocab_size()),
                    merged => format!(
                        "{} ({} ids: {} merged after {})",
                        part.kind(),
                        part.vocab_size(),
                        merged,
                        part.base.vocab_size()
                    ),
                }
            })
            .collect();
        println!("modalities {} (--modality KIND, --text CAPTION)", listed.join(", "));
    }
    if let Some(bpe) = &saved.bpe {
        let base = tok.base.vocab_size();
        let split = String::from(bpe.split().clone());
        println!("bpe        {} merged ids after {base} base ids, split {split:?}", tok.ids.vocab_size() - base);
    }
    for codec in saved.codecs() {
        println!("codec      {codec}");
    }
    if let Some(prompts) = tok.base.extras().prompts {
        let flag = if tok.frames().is_some() { "--prompt-frames (or --prompt-length)" } else { "--prompt-length" };
        println!("prompts    {flag} counts {}", prompts.unit());
    }
    if let (Some(sentinels), Some(unit)) = (tok.fim, tok.span_unit()) {
        let [p, s, m] = sentinels.ids();
        println!("infill     --infill FILE --span A:B counts {unit}s (sentinels {p}, {s}, {m})");
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
        (m.mlp != Mlp::Gelu).then(|| format!("mlp {}", m.mlp.name())),
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
        let losses = if let Some(source) = &c.state.imported_from {
            format!("imported from {source}, not evaluated")
        } else {
            match c.state.evaluated() {
                Some(true) => own(c.state.train_loss, c.state.val_loss),
                Some(false) => "not evaluated: the process ended between its save on a stop and its evaluation; \
                               a resume evaluates it"
                    .to_owned(),
                None => match records.iter().rev().find(|r| r.step == c.state.step) {
                    Some(r) => own(r.train_loss, r.val_loss),
                    None if records.is_empty() => own(c.state.train_loss, c.state.val_loss),
                    None => "not evaluated: saved on a stop".to_owned(),
                },
            }
        };
        println!("{which:<10} step {} ({losses}) in {}", c.state.step, c.dir.display());
    }
    println!("metrics    {} evaluations in {}", records.len(), run.metrics_path().display());
    Ok(())
}

/// The folder that `render` writes to without `--out`, as `sample` does: `out/` in the
/// working folder, so that a read-only folder of inputs renders too.
const RENDER_OUT: &str = "out";

/// Renders a file into previews for people (pictures, sound) with the renderer that
/// [`crate::tools`] lists for its extension, into `--out` (default [`RENDER_OUT`]),
/// named after the file.
pub fn render(args: &RenderArgs) -> Result<()> {
    let renderer = crate::tools::renderer_for(&args.file)?;
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from(RENDER_OUT));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the output folder {}", dir.display()))?;
    for path in (renderer.render)(&args.file, &dir)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
