//! `autoreg sample --infill FILE --span A:B`: the file with units A to B regenerated
//! by a run trained with fill in the middle, everything else kept.

use super::sample::{Runs, create_out, file_prompt, generate, report_set, write_sample};
use crate::cli::SampleArgs;
use crate::run::samples::{SampleRecord, SampleSet};
use anyhow::{Context, Result, anyhow, bail};
use autoreg_data::Windows;
use autoreg_model::SampleOptions;
use autoreg_tokens::{Cut, Pipeline};
use std::path::{Path, PathBuf};

/// Writes `options.num` candidates of `file` with its `--span` regenerated to
/// `args.out`; returns their paths and the set to record.
pub fn infill(
    run: Runs<'_>,
    file: &Path,
    class: Option<usize>,
    options: &SampleOptions,
    args: &SampleArgs,
) -> Result<(Vec<PathBuf>, SampleSet)> {
    let tok = run.tokenizer.pipeline();
    let Some(sentinels) = tok.fim else {
        bail!(
            "--infill: this run was trained without fill in the middle (its tokenizer has no sentinels); \
             train one with data.fim_rate = 0.5"
        );
    };
    let unit = tok.span_unit().context("--infill: this run's tokenizer has no units to infill")?;
    let (first, last) = parse_span(args.span.as_deref().unwrap_or_default())?;
    let bytes = std::fs::read(file).with_context(|| format!("--infill: cannot read {}", file.display()))?;
    let (mut doc, _) = file_prompt(&run, file, &bytes, None, class)?;
    doc.push(tok.specials().eos);
    let cut = tok.infill_cut(&doc, first, last).map_err(|e| anyhow!("--span {e} ({})", file.display()))?;
    // The middle's room: what the model may write before its context is full.
    let block = run.model.config().block_size as usize;
    let room = options.max_tokens.min(block / 2);
    // A prefix cut short keeps the head in front as the run's training windows do.
    let keep_head = run.config.data.windows != Windows::Stream;
    let prompt = cut.prompt(&doc, sentinels, block - room, keep_head);
    let samples = generate(run, &prompt, None, None, options, args)?;
    create_out(&args.out)?;
    let stem = format!(
        "{}-infill",
        file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| run.config.name.clone())
    );
    let label = format!("{} with {unit}s {first} to {last} infilled", file.display());
    let mut records = Vec::new();
    for (i, sample) in samples.iter().enumerate() {
        let name = if samples.len() == 1 { stem.clone() } else { format!("{stem}-{i}") };
        let (ids, ended) = assemble(tok, &doc, cut, &sample[prompt.len()..]);
        let record = write_sample(tok, &ids, &args.out.join(name))?;
        if !ended {
            log::warn!(
                "{}: the middle did not end within {} tokens (--max-tokens); it is cut there",
                record.files[0].display(),
                options.max_tokens
            );
        }
        records.push(SampleRecord { label: Some(label.clone()), ..record });
    }
    report_set(&args.out, &records);
    let written = records.iter().flat_map(|r| r.files.clone()).collect();
    let set = SampleSet {
        time: Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
        out: args.out.clone(),
        step: Some(run.checkpoint.state.step),
        label: Some(label),
        overview: None,
        samples: records,
    };
    Ok((written, set))
}

/// `A:B`, two units counted from 1.
fn parse_span(text: &str) -> Result<(usize, usize)> {
    let unit = |s: &str| s.trim().parse::<usize>().ok();
    match text.split_once(':').map(|(a, b)| (unit(a), unit(b))) {
        Some((Some(a), Some(b))) => Ok((a, b)),
        _ => bail!("--span {text:?}: give the first and last units to regenerate as A:B, counted from 1 (5:6)"),
    }
}

/// The infilled document: `doc` with the middle of `cut` replaced by the model's
/// `middle` (up to its EOS), and whether that EOS came.
fn assemble(tok: Pipeline<'_>, doc: &[u32], cut: Cut, middle: &[u32]) -> (Vec<u32>, bool) {
    let eos = tok.specials().eos;
    let end = middle.iter().position(|&t| t == eos);
    let middle = &middle[..end.unwrap_or(middle.len())];
    ([&doc[..cut.a], middle, &doc[cut.b..]].concat(), end.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_two_units() {
        assert_eq!(parse_span("5:6").unwrap(), (5, 6));
        assert_eq!(parse_span(" 2 : 2").unwrap(), (2, 2));
        for bad in ["", "5", "5:", ":6", "a:b", "-1:2", "1:2:3"] {
            let err = parse_span(bad).unwrap_err().to_string();
            assert!(err.contains("give the first and last units"), "{bad}: {err}");
        }
    }
}
