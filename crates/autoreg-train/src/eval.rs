//! Evaluation over every token of a split.

use autoreg_model::{Gpt, IGNORE};
use autoreg_tokens::{TokenStore, Tokenizer};
use tch::{Device, Reduction, Tensor};

/// Loss over a whole split.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Documents evaluated.
    pub documents: usize,
    /// Tokens predicted.
    pub tokens: usize,
    /// Mean loss, nats per token.
    pub loss: f64,
    /// The tokenizer's unit (`"note"`, `"dim"`...), with units counted and nats per unit.
    pub per_unit: Option<(&'static str, usize, f64)>,
}

impl Evaluation {
    /// Mean loss in bits per token.
    pub fn bits_per_token(&self) -> f64 {
        self.loss / std::f64::consts::LN_2
    }
}

/// Evaluates `model` on every document of `store`: each document is read from its
/// start in windows of `block_size` tokens (context restarts at each window), and
/// every token after the first is predicted once.
pub fn evaluate(
    model: &Gpt,
    store: &TokenStore,
    tokenizer: &dyn Tokenizer,
    device: Device,
    batch: usize,
) -> Evaluation {
    let block = model.config().block_size as usize;
    let pad = i64::from(tokenizer.specials().pad);
    // (input, target) windows of every document.
    let windows: Vec<(&[u32], &[u32])> = store
        .docs()
        .filter(|d| d.len() > 1)
        .flat_map(|d| {
            (0..d.len() - 1).step_by(block).map(move |s| {
                let e = (s + block).min(d.len() - 1);
                (&d[s..e], &d[s + 1..e + 1])
            })
        })
        .collect();
    let mut total = 0.0;
    let mut tokens = 0;
    tch::no_grad(|| {
        for chunk in windows.chunks(batch.max(1)) {
            let t = chunk.iter().map(|(x, _)| x.len()).max().unwrap_or(1);
            let mut x = vec![pad; chunk.len() * t];
            let mut y = vec![IGNORE; chunk.len() * t];
            for (i, (xs, ys)) in chunk.iter().enumerate() {
                for (j, (&a, &b)) in xs.iter().zip(ys.iter()).enumerate() {
                    x[i * t + j] = i64::from(a);
                    y[i * t + j] = i64::from(b);
                }
                tokens += ys.len();
            }
            let shape = [chunk.len() as i64, t as i64];
            let x = Tensor::from_slice(&x).view(shape).to_device(device);
            let y = Tensor::from_slice(&y).view([-1]).to_device(device);
            let logits = model.forward_t(&x, false).view([-1, model.vocab_size()]); // (B*T, V)
            let loss = logits.cross_entropy_loss::<Tensor>(&y, None, Reduction::Sum, IGNORE, 0.0);
            total += loss.double_value(&[]);
        }
    });
    let documents = store.num_docs();
    let per_unit = tokenizer.unit().map(|unit| {
        let units: usize = store.docs().map(|d| tokenizer.count_units(d)).sum();
        (unit, units, if units > 0 { total / units as f64 } else { f64::NAN })
    });
    Evaluation { documents, tokens, loss: if tokens > 0 { total / tokens as f64 } else { f64::NAN }, per_unit }
}
