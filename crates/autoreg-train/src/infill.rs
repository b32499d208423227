//! How well a model trained with fill in the middle infills: on held-out documents,
//! one unit each (a line, a bar, a row) chosen by a seed, the middle's loss given the
//! prefix and the suffix beside its loss given the prefix alone (left to right), and how
//! often greedy decoding writes it exactly either way.

use crate::error::TrainError;
use autoreg_data::{Cut as Windows, TokenStore};
use autoreg_model::{Gpt, SampleOptions, Sampler};
use autoreg_tokens::{Cut, Pipeline, Sentinels};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

/// Infilling figures over held-out documents.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct InfillScore {
    /// The unit the middles are (`"line"`).
    pub span_unit: String,
    /// Documents scored: one middle each.
    pub documents: usize,
    /// Ids in the middles.
    pub tokens: usize,
    /// The modality's own unit of evaluation and how many the middles hold (bytes of
    /// code, notes), when it has one.
    pub per_unit: Option<(String, usize)>,
    /// The middles' negative log-likelihood in nats given prefix and suffix, their
    /// closing EOS left out.
    pub fim_nats: f64,
    /// The same given the prefix alone.
    pub prefix_nats: f64,
    /// Middles that greedy decoding writes exactly, given prefix and suffix (then EOS).
    pub fim_exact: usize,
    /// The same continuing the prefix alone, for as many ids as the middle has.
    pub prefix_exact: usize,
    /// The seed that chose the middles.
    pub seed: u64,
}

/// Scores infilling on up to `limit` documents of `val` (in `tok`'s ids, the run's
/// training windows cut as `windows`): in each, one unit chosen with `seed` among those
/// whose middle leaves room for context. Both contexts are cut to the model's block as
/// sampling cuts them.
pub fn evaluate_infill(
    (model, device): (&Gpt, Device),
    (val, windows): (&TokenStore, Windows),
    tok: Pipeline<'_>,
    limit: usize,
    seed: u64,
) -> Result<InfillScore, TrainError> {
    let sentinels =
        tok.fim.ok_or_else(|| TrainError::Config("the run was trained without fill in the middle".into()))?;
    let unit = tok.span_unit().ok_or_else(|| TrainError::Config("the tokenizer has no units to infill".into()))?;
    let block = model.config().block_size as usize;
    let specials = tok.specials();
    let eos = specials.eos;
    // The ids no document continues with: greedy decoding never writes them.
    let never = [specials.bos, specials.pad, sentinels.prefix, sentinels.suffix, sentinels.middle];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut score = InfillScore { span_unit: unit.into(), seed, ..Default::default() };
    let mut units = 0;
    for doc in val.docs() {
        if score.documents == limit {
            break;
        }
        let doc: Vec<u32> = doc.to_vec();
        let bounds = tok.unit_bounds(&doc);
        // Units with something in them and room for a quarter block of context.
        let fits: Vec<usize> = (1..bounds.len())
            .filter(|&k| bounds[k] > bounds[k - 1] && bounds[k] - bounds[k - 1] <= block / 2)
            .collect();
        if fits.is_empty() {
            continue;
        }
        let k = fits[rng.random_range(0..fits.len())];
        let cut = tok.infill_cut(&doc, k, k).map_err(TrainError::Config)?;
        let middle = &doc[cut.a..cut.b];
        let (fim, prefix) = contexts(&doc, cut, sentinels, block, windows != Windows::Stream);
        score.fim_nats += nats(model, device, &fim, middle)?;
        score.prefix_nats += nats(model, device, prefix, middle)?;
        let decoder = (model, device, &never[..]);
        score.fim_exact +=
            usize::from(greedy(decoder, &fim, middle.len() + 1, Some(eos))? == [middle, &[eos]].concat());
        score.prefix_exact += usize::from(greedy(decoder, prefix, middle.len(), None)? == middle);
        score.documents += 1;
        score.tokens += middle.len();
        units += tok.count_units(middle);
    }
    score.per_unit = tok.unit().map(|u| (u.to_owned(), units));
    Ok(score)
}

/// The two contexts of the middle of `doc` cut at `cut`, within `block` ids with the
/// middle: the infilling prompt (prefix and suffix; see [`Cut::prompt`] for
/// `keep_head`), and the prefix alone.
fn contexts(doc: &[u32], cut: Cut, sentinels: Sentinels, block: usize, keep_head: bool) -> (Vec<u32>, &[u32]) {
    let room = block.saturating_sub(cut.b - cut.a);
    (cut.prompt(doc, sentinels, room, keep_head), &doc[cut.a.saturating_sub(room)..cut.a])
}

/// The negative log-likelihood in nats of the middle of `doc` cut at `cut` (its EOS left
/// out) given the prefix and the suffix, and given the prefix alone; `windows` are the
/// run's (see [`Cut::prompt`]).
pub fn middle_nats(
    model: &Gpt,
    device: Device,
    doc: &[u32],
    cut: Cut,
    (sentinels, windows): (Sentinels, Windows),
) -> Result<(f64, f64), TrainError> {
    let block = model.config().block_size as usize;
    let (fim, prefix) = contexts(doc, cut, sentinels, block, windows != Windows::Stream);
    let middle = &doc[cut.a..cut.b];
    Ok((nats(model, device, &fim, middle)?, nats(model, device, prefix, middle)?))
}

/// The negative log-likelihood in nats of `target` after `context`, in one pass.
fn nats(model: &Gpt, device: Device, context: &[u32], target: &[u32]) -> Result<f64, TrainError> {
    let seq: Vec<i64> = context.iter().chain(target).map(|&t| i64::from(t)).collect();
    let n = seq.len() as i64;
    let logits = tch::no_grad(|| {
        model.forward_t(&Tensor::from_slice(&seq[..seq.len() - 1]).view([1, n - 1]).to_device(device), false)
    }); // (1, T, V)
    let from = context.len() as i64 - 1;
    let logp = logits.narrow(1, from, target.len() as i64).squeeze_dim(0).log_softmax(-1, Kind::Float); // (M, V)
    let targets = Tensor::from_slice(&seq[context.len()..]).to_device(device).unsqueeze(1); // (M, 1)
    Ok(-logp.gather(1, &targets, false).sum(Kind::Double).double_value(&[]))
}

/// What greedy decoding writes after `prompt`: at most `max` ids, stopping after `eos`,
/// never one of `never`.
fn greedy(
    (model, device, never): (&Gpt, Device, &[u32]),
    prompt: &[u32],
    max: usize,
    eos: Option<u32>,
) -> Result<Vec<u32>, TrainError> {
    let options = SampleOptions { num: 1, max_tokens: max, temperature: 0.0, ..SampleOptions::default() };
    let rows = Sampler::new(model, device).never_drawing(never).generate(prompt, eos, None, &options, &mut || {})?;
    Ok(rows.into_iter().next().map(|r| r[prompt.len()..].to_vec()).unwrap_or_default())
}
