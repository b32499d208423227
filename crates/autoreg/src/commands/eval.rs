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
    let restarts = evaluate(&run.model, &data.val, data.windows, tok, run.device, batch, None);
    println!(
        "{} (step {}): validation split of {} documents, {} predicted tokens; windows of {block} tokens \
         advancing by {stride} (a token past the first window has at least {} before it), and windows that restart",
        run.dir.path().display(),
        run.checkpoint.state.step,
        e.documents,
        e.tokens,
        block - stride
    );
    let units = e.per_unit.map(|(u, n, _)| (u, n));
    let header =
        units.map(|(u, _)| format!("  {:>12} {:>12}", format!("nats/{u}"), format!("bits/{u}"))).unwrap_or_default();
    println!("{:<24} {:>11} {:>11} {:>12}{header}", "model", "nats/token", "bits/token", "nats/doc");
    let mut rows = vec![
        row(&format!("transformer, stride {stride}"), e.loss * e.tokens as f64, e.tokens, &data.val, units),
        row("transformer, restarts", restarts.loss * restarts.tokens as f64, restarts.tokens, &data.val, units),
    ];
    if !args.no_baselines {
        let vocab = tok.vocab_size();
        for b in [Baseline::Unigram, Baseline::Markov(args.markov_order), Baseline::Positional] {
            let (nats, count) = baseline_nats(b, &data.train, &data.val, vocab);
            rows.push(row(&b.to_string(), nats, count, &data.val, units));
        }
    }
    let path = run.dir.path().join("eval.json");
    let json = serde_json::json!({
        "step": run.checkpoint.state.step,
        "documents": e.documents,
        "tokens": e.tokens,
        "stride": stride,
        "unit": units.map(|(u, _)| u),
        "units": units.map(|(_, n)| n),
        "models": rows,
    });
    write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(e)
}

/// Prints one line of the table and returns it as JSON.
fn row(name: &str, nats: f64, tokens: usize, val: &TokenStore, units: Option<(&str, usize)>) -> serde_json::Value {
    let per_token = nats / tokens.max(1) as f64;
    let per_doc = nats / val.num_docs().max(1) as f64;
    let per_unit = units.map(|(_, n)| nats / n.max(1) as f64);
    let unit_cols = per_unit.map(|u| format!("  {u:>12.4} {:>12.4}", u / LN_2)).unwrap_or_default();
    println!("{name:<24} {per_token:>11.4} {:>11.4} {per_doc:>12.2}{unit_cols}", per_token / LN_2);
    serde_json::json!({
        "model": name,
        "nats_per_token": per_token,
        "bits_per_token": per_token / LN_2,
        "nats_per_document": per_doc,
        "nats_per_unit": per_unit,
    })
}
