//! `autoreg eval`.

use crate::cli::EvalArgs;
use crate::run::load_run;
use anyhow::Result;
use autoreg_tokens::write_atomic;
use autoreg_train::{Evaluation, evaluate, list_files, load_dataset, resolve_data_path};

/// Evaluates a run's checkpoint on its validation split, prints the figures and saves
/// them as `eval.json` in the run directory.
pub fn eval(args: &EvalArgs) -> Result<Evaluation> {
    let run = load_run(&args.model)?;
    let config = &run.config;
    let tok = run.tokenizer.as_dyn();
    let files = list_files(&resolve_data_path(&config.data)?, config.tokenizer.extensions())?;
    let data = load_dataset(&config.data, &files, tok, &run.tokenizer.to_json(), config.train.seed)?;
    let batch = config.train.batch_size.max(1) as usize;
    let e = evaluate(&run.model, &data.val, tok, run.device, batch);
    println!(
        "{} (step {}): validation {} documents, {} tokens",
        run.dir.path().display(),
        run.checkpoint.state.step,
        e.documents,
        e.tokens
    );
    println!("loss {:.4} nats/token, {:.4} bits/token", e.loss, e.bits_per_token());
    let mut json = serde_json::json!({
        "step": run.checkpoint.state.step,
        "documents": e.documents,
        "tokens": e.tokens,
        "loss_nats_per_token": e.loss,
        "bits_per_token": e.bits_per_token(),
    });
    if let Some((unit, count, nats)) = e.per_unit {
        println!("per {unit}: {nats:.4} nats, {:.4} bits ({count} {unit}s)", nats / std::f64::consts::LN_2);
        json["unit"] = unit.into();
        json["units"] = count.into();
        json["nats_per_unit"] = nats.into();
    }
    let path = run.dir.path().join("eval.json");
    write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    Ok(e)
}
