//! `autoreg eval`.

use crate::cli::EvalArgs;
use crate::run::load_run;
use crate::tokenized;
use anyhow::Result;
use autoreg_tokens::{TokenStore, write_atomic};
use autoreg_train::{Baseline, Evaluation, baseline_nats, evaluate, list_files, resolve_data_path};
use std::f64::consts::LN_2;

/// Evaluates a run's checkpoint on its validation split beside count-based baselines
/// fitted on its training split, prints the table and saves it as `eval.json`.
pub fn eval(args: &EvalArgs) -> Result<Evaluation> {
    let run = load_run(&args.model)?;
    let config = &run.config;
    let tok = run.tokenizer.pipeline();
    let files = list_files(&resolve_data_path(&config.data, run.dir.path())?, &config.tokenizer.extensions())?;
    let data = tokenized::load(config, &files, &run.tokenizer)?;
    let batch = config.train.batch_size.max(1) as usize;
    let block = run.model.config().block_size as usize;
    let stride = args.stride.unwrap_or(block / 2).clamp(1, block);
    let e = evaluate(&run.model, &data.val, data.windows, tok, run.device, batch, Some(stride));
    let place = format!(
        "{} (step {}): validation split of {} documents, {} predicted tokens",
        run.dir.path().display(),
        run.checkpoint.state.step,
        e.documents,
        e.tokens
    );
    let frames = data.windows.frames();
    let mut units: Vec<(&str, usize)> = e.per_unit.map(|(u, n, _)| (u, n)).into_iter().collect();
    if let Some(layout) = frames {
        units.push(("frame", data.val.docs().map(|d| layout.starts(d).len()).sum()));
    }
    let header: String =
        units.iter().map(|(u, _)| format!("  {:>12} {:>12}", format!("nats/{u}"), format!("bits/{u}"))).collect();
    let mut rows = Vec::new();
    let print_header =
        || println!("{:<28} {:>11} {:>11} {:>12}{header}", "model", "nats/token", "bits/token", "nats/doc");
    if let Some(layout) = frames {
        println!("{place}; each frame predicted after the {} frames before it, as sampling slides", layout.context);
        print_header();
        rows.push(row("transformer, frame windows", e.loss * e.tokens as f64, e.tokens, &data.val, &units));
    } else {
        let restarts = evaluate(&run.model, &data.val, data.windows, tok, run.device, batch, None);
        println!(
            "{place}; windows of {block} tokens advancing by {stride} (a token past the first window has at least {} \
             before it), and windows that restart",
            block - stride
        );
        print_header();
        rows.push(row(&format!("transformer, stride {stride}"), e.loss * e.tokens as f64, e.tokens, &data.val, &units));
        let nats = restarts.loss * restarts.tokens as f64;
        rows.push(row("transformer, restarts", nats, restarts.tokens, &data.val, &units));
    }
    if !args.no_baselines {
        let vocab = tok.vocab_size();
        let mut baselines = vec![Baseline::Unigram, Baseline::Markov(args.markov_order), Baseline::Positional];
        baselines.extend(frames.map(|layout| Baseline::Lag(layout.len)));
        for b in baselines {
            let (nats, count) = baseline_nats(b, &data.train, &data.val, vocab);
            let name = match b {
                Baseline::Lag(_) => "copy the last frame".to_owned(),
                _ => b.to_string(),
            };
            rows.push(row(&name, nats, count, &data.val, &units));
        }
    }
    if frames.is_some() {
        println!(
            "anchor, a different setup: Video Pixel Networks (Kalchbrenner et al. 2016) on Moving MNIST at 64x64, \
             binary pixels, 10 frames given: 87.6 nats/frame (its lower bound 86.3)"
        );
    }
    let path = run.dir.path().join("eval.json");
    let json = serde_json::json!({
        "step": run.checkpoint.state.step,
        "documents": e.documents,
        "tokens": e.tokens,
        "stride": stride,
        "unit": units.first().map(|(u, _)| u),
        "units": units.first().map(|(_, n)| n),
        "frames": frames.map(|_| units.last().map(|(_, n)| n)),
        "models": rows,
    });
    write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(e)
}

/// Prints one line of the table and returns it as JSON: nats per token, per document,
/// and per each of `units` (the modality's unit first, then frames when there are).
fn row(name: &str, nats: f64, tokens: usize, val: &TokenStore, units: &[(&str, usize)]) -> serde_json::Value {
    let per_token = nats / tokens.max(1) as f64;
    let per_doc = nats / val.num_docs().max(1) as f64;
    let per_unit: Vec<f64> = units.iter().map(|(_, n)| nats / (*n).max(1) as f64).collect();
    let unit_cols: String = per_unit.iter().map(|u| format!("  {u:>12.4} {:>12.4}", u / LN_2)).collect();
    println!("{name:<28} {per_token:>11.4} {:>11.4} {per_doc:>12.2}{unit_cols}", per_token / LN_2);
    let mut json = serde_json::json!({
        "model": name,
        "nats_per_token": per_token,
        "bits_per_token": per_token / LN_2,
        "nats_per_document": per_doc,
        "nats_per_unit": per_unit.first(),
    });
    // Units after the first (frames) get a key of their own: `nats_per_frame`.
    for ((unit, _), nats) in units.iter().zip(&per_unit).skip(1) {
        json[format!("nats_per_{unit}")] = serde_json::json!(nats);
    }
    json
}
