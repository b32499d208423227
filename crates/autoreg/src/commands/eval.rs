//! `autoreg eval`.

use crate::cli::EvalArgs;
use crate::prepare;
use crate::progress::Bar;
use crate::run::{LoadedRun, load_run};
use anyhow::{Context, Result, bail};
use autoreg_data::TokenStore;
use autoreg_data::{Dataset, SourceSpan};
use autoreg_model::NativeModel;
use autoreg_tokens::{Parts, write_atomic};
use autoreg_train::{Baseline, Evaluation, Scorer, baseline_nats, evaluate, evaluate_infill};
use std::f64::consts::LN_2;

/// Evaluates a run's checkpoint on its validation split beside count-based baselines
/// fitted on its training split, prints the table and saves it as `eval.json` (with
/// `--weights W`, `eval-W.json`, beside it). A run of several sources gets one table
/// with each source's rows.
pub fn eval(args: &EvalArgs) -> Result<Evaluation> {
    if !args.no_baselines && args.markov_order > Baseline::MAX_MARKOV_ORDER {
        bail!(
            "--markov-order {}: at most {}: the chain keeps up to order + 1 contexts of every training token, and \
             past a few dozen tokens nearly every context is seen once, so a longer one costs memory and time and \
             predicts nothing more",
            args.markov_order,
            Baseline::MAX_MARKOV_ORDER
        );
    }
    let run = load_for_eval(args)?;
    let config = &run.config;
    let data = prepare::reload(config, run.dir.path(), &run.tokenizer, &Bar::new())?;
    // `--weights`: through the native decoder, its matrices so kept.
    let native = args
        .weights
        .map(|w| NativeModel::new(&run.model, w).with_context(|| format!("--weights {w}: cannot copy the weights")))
        .transpose()?;
    let scorer = match &native {
        Some(native) => Scorer::Native(native),
        None => Scorer::Torch(run.device),
    };
    if data.sources.is_empty() { one_source(args, &run, &data, scorer) } else { by_source(args, &run, &data, scorer) }
}

/// `autoreg eval --infill`: scores infilling on the run's validation split (see
/// [`evaluate_infill`]), prints the table and saves it as `eval-infill.json`.
pub fn eval_infill(args: &EvalArgs) -> Result<()> {
    let run = load_for_eval(args)?;
    let tok = run.tokenizer.pipeline();
    if tok.fim.is_none() {
        bail!(
            "--infill: this run was trained without fill in the middle (its tokenizer has no sentinels); \
             train one with data.fim_rate = 0.5"
        );
    }
    let data = prepare::reload(&run.config, run.dir.path(), &run.tokenizer, &Bar::new())?;
    let s = evaluate_infill((&run.model, run.device), (&data.val, data.windows), tok, args.docs, args.seed)?;
    if s.documents == 0 {
        bail!("--infill: no validation document has a {} to infill within the model's block", s.span_unit);
    }
    println!(
        "{} (step {}): one {} in each of {} validation documents (seed {}), {} middle tokens",
        run.dir.path().display(),
        run.checkpoint.state.step,
        s.span_unit,
        s.documents,
        s.seed,
        s.tokens
    );
    let unit = s.per_unit.as_ref().map(|(u, n)| (u.as_str(), *n));
    let header = unit.map(|(u, _)| format!(" {:>12}", format!("nats/{u}"))).unwrap_or_default();
    println!("{:<28} {:>11}{header} {:>12}", "middle given", "nats/token", "exact match");
    for (name, nats, exact) in [
        ("prefix and suffix (FIM)", s.fim_nats, s.fim_exact),
        ("prefix alone (left to right)", s.prefix_nats, s.prefix_exact),
    ] {
        let per_unit = unit.map(|(_, n)| format!(" {:>12.4}", nats / n.max(1) as f64)).unwrap_or_default();
        let rate = format!("{:.1}%", 100.0 * exact as f64 / s.documents as f64);
        println!("{name:<28} {:>11.4}{per_unit} {rate:>12}", nats / s.tokens as f64);
    }
    let path = run.dir.path().join("eval-infill.json");
    let json = serde_json::to_vec_pretty(&s).context("cannot write the infilling figures as JSON")?;
    write_atomic(&path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The run to evaluate, its data path replaced by `--data` when given.
fn load_for_eval(args: &EvalArgs) -> Result<LoadedRun> {
    let mut run = load_run(&args.model)?;
    run.warn_if_untrained();
    if let Some(path) = &args.data {
        if !run.config.sources.is_empty() {
            bail!("--data: {} is a run of [[sources]], each with its own data", run.dir.path().display());
        }
        run.config.data.path = std::path::absolute(path).with_context(|| format!("--data {}", path.display()))?;
    } else if run.config.sources.is_empty() && run.config.data.path.as_os_str().is_empty() {
        bail!("{} has no data of its own (an imported run): give --data PATH", run.dir.path().display());
    }
    Ok(run)
}

/// The table of a run of one source.
fn one_source(args: &EvalArgs, run: &LoadedRun, data: &Dataset, scorer: Scorer<'_>) -> Result<Evaluation> {
    let tok = run.tokenizer.pipeline();
    let config = &run.config;
    let batch = config.train.batch_size.max(1) as usize;
    let block = run.model.config().block_size as usize;
    let stride = args.stride.unwrap_or(block / 2).clamp(1, block);
    let e = evaluate(&run.model, scorer, &data.val, data.windows, tok, batch, Some(stride));
    let place = format!(
        "{} (step {}{}): validation split of {} documents, {} predicted tokens",
        run.dir.path().display(),
        run.checkpoint.state.step,
        weights_note(args),
        e.documents,
        e.tokens
    );
    let frames = data.windows.frames();
    let mut units: Vec<(&str, usize)> = e.per_unit.map(|(u, n, _)| (u, n)).into_iter().collect();
    if let Some(layout) = frames {
        units.push(("frame", data.val.docs().map(|d| layout.starts(&d).len()).sum()));
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
        let restarts = evaluate(&run.model, scorer, &data.val, data.windows, tok, batch, None);
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
            let (nats, count) = baseline_nats(b, &data.train, &data.val, vocab).with_context(|| flag_of(b))?;
            let name = match b {
                Baseline::Lag(_) => "copy the last frame".to_owned(),
                _ => b.to_string(),
            };
            rows.push(row(&name, nats, count, &data.val, &units));
        }
    }
    if let Some(anchor) = tok.base.extras().units.and_then(|u| u.anchor()).filter(|_| frames.is_some()) {
        println!("anchor, a different setup: {anchor}");
    }
    let codec = run.tokenizer.codec().map(|codec| {
        // A codec's units are the signal's values: audio's rate turns them into seconds.
        let rate = codec.codes_per_second().map(|codes| codes * codec.values_per_code() as f64);
        let per_second = e.per_unit.zip(rate).map(|((_, _, nats), rate)| nats * rate);
        let t = codec.trained();
        println!(
            "codec: {codec}; on its training split, reconstruction L1 {:.3} and code perplexity {:.0}",
            t.reconstruction_l1, t.perplexity
        );
        if let Some(nats) = per_second {
            println!("the transformer: {nats:.1} nats ({:.1} bits) per second of signal", nats / LN_2);
        }
        serde_json::json!({ "codec": codec.to_string(), "trained": t, "transformer_nats_per_second": per_second })
    });
    let json = serde_json::json!({
        "unit": units.first().map(|(u, _)| u),
        "units": units.first().map(|(_, n)| n),
        "frames": frames.map(|_| units.last().map(|(_, n)| n)),
        "models": rows,
        "codec": codec,
    });
    save(args, run, &e, stride, json)?;
    Ok(e)
}

/// `, weights W on the native decoder` when `--weights` was given.
fn weights_note(args: &EvalArgs) -> String {
    args.weights.map(|w| format!(", {w} weights on the native decoder")).unwrap_or_default()
}

/// The table of a run of several sources: per source, the transformer and the
/// baselines fitted on that source's training documents, per token, per document and
/// per unit of the source's modality (counted in each document's last segment).
fn by_source(args: &EvalArgs, run: &LoadedRun, data: &Dataset, scorer: Scorer<'_>) -> Result<Evaluation> {
    let tok = run.tokenizer.pipeline();
    let parts = tok.parts().ok_or_else(|| anyhow::anyhow!("a run of several sources needs a mixture"))?;
    let batch = run.config.train.batch_size.max(1) as usize;
    let block = run.model.config().block_size as usize;
    let stride = args.stride.unwrap_or(block / 2).clamp(1, block);
    // Each source evaluated once; the whole split's figures are their sums.
    let each: Vec<Evaluation> = data
        .sources
        .iter()
        .map(|span| {
            let val = data.val.slice(span.val.clone());
            evaluate(&run.model, scorer, &val, span.windows, tok, batch, Some(stride))
        })
        .collect();
    let tokens: usize = each.iter().map(|e| e.tokens).sum();
    let nats: f64 = each.iter().map(|e| e.loss * e.tokens as f64).sum();
    let documents = each.iter().map(|e| e.documents).sum();
    let all = Evaluation { documents, tokens, loss: nats / tokens.max(1) as f64, per_unit: None };
    println!(
        "{} (step {}{}): validation split of {} documents, {} predicted tokens; windows of {block} tokens advancing \
         by {stride}",
        run.dir.path().display(),
        run.checkpoint.state.step,
        weights_note(args),
        all.documents,
        all.tokens
    );
    println!(
        "{:<14} {:<24} {:>11} {:>11} {:>12} {:>12} {:>12}  unit",
        "source", "model", "nats/token", "bits/token", "nats/doc", "nats/unit", "bits/unit"
    );
    let sources = data
        .sources
        .iter()
        .zip(&each)
        .map(|(span, e)| source_rows(args, run, data, span, parts, e, stride))
        .collect::<Result<Vec<serde_json::Value>>>()?;
    save(args, run, &all, stride, serde_json::json!({ "nats_per_token": all.loss, "sources": sources }))?;
    Ok(all)
}

/// Writes the run's `eval.json` (`eval-W.json` with `--weights W`): the step, what was
/// evaluated, and `fields`.
fn save(args: &EvalArgs, run: &LoadedRun, e: &Evaluation, stride: usize, mut fields: serde_json::Value) -> Result<()> {
    // `--weights` figures go beside the run's own, not over them.
    let name = args.weights.map_or("eval.json".to_string(), |w| format!("eval-{w}.json"));
    let path = run.dir.path().join(name);
    if let Some(w) = args.weights {
        fields["weights"] = serde_json::json!(w.to_string());
    }
    fields["step"] = serde_json::json!(run.checkpoint.state.step);
    fields["documents"] = serde_json::json!(e.documents);
    fields["tokens"] = serde_json::json!(e.tokens);
    fields["stride"] = serde_json::json!(stride);
    write_atomic(&path, serde_json::to_string_pretty(&fields)?.as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Prints one source's rows of [`by_source`]'s table, the transformer's evaluation `e`
/// of its validation documents and its baselines, and returns them as JSON.
fn source_rows(
    args: &EvalArgs,
    run: &LoadedRun,
    data: &Dataset,
    span: &SourceSpan,
    parts: &dyn Parts,
    e: &Evaluation,
    stride: usize,
) -> Result<serde_json::Value> {
    let tok = run.tokenizer.pipeline();
    let (train, val) = (data.train.slice(span.train.clone()), data.val.slice(span.val.clone()));
    // The source's body is each document's last segment, after any caption.
    let mut unit = None;
    let mut units = 0;
    for doc in val.docs() {
        if let Some(segment) = parts.segments(&doc).pop() {
            let part = parts.part(segment.part);
            unit = unit.or(part.unit());
            units += part.count_units(&segment.ids);
        }
    }
    let unit = unit.unwrap_or("token");
    let mut rows = vec![(format!("transformer, stride {stride}"), e.loss * e.tokens as f64, e.tokens)];
    if !args.no_baselines {
        for b in [Baseline::Unigram, Baseline::Markov(args.markov_order), Baseline::Positional] {
            let (nats, count) = baseline_nats(b, &train, &val, tok.vocab_size()).with_context(|| flag_of(b))?;
            rows.push((b.to_string(), nats, count));
        }
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(model, nats, tokens)| {
            let per_token = nats / (*tokens).max(1) as f64;
            let per_doc = nats / val.num_docs().max(1) as f64;
            let per_unit = if unit == "token" { per_token } else { nats / units.max(1) as f64 };
            println!(
                "{:<14} {model:<24} {per_token:>11.4} {:>11.4} {per_doc:>12.2} {per_unit:>12.4} {:>12.4}  {unit}",
                span.name,
                per_token / LN_2,
                per_unit / LN_2
            );
            serde_json::json!({
                "model": model,
                "nats_per_token": per_token,
                "bits_per_token": per_token / LN_2,
                "nats_per_document": per_doc,
                "nats_per_unit": per_unit,
            })
        })
        .collect();
    let documents = val.num_docs();
    Ok(serde_json::json!({ "source": span.name, "documents": documents, "unit": unit, "units": units, "models": json }))
}

/// What a baseline's error is about: the flag that set it, or the baseline.
fn flag_of(b: Baseline) -> String {
    match b {
        Baseline::Markov(order) => format!("--markov-order {order} (or --no-baselines)"),
        other => format!("the {other} baseline"),
    }
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
