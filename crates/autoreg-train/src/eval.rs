//! Evaluation over every token of a split.

use autoreg_data::Cut;
use autoreg_data::TokenStore;
use autoreg_model::{Gpt, IGNORE, NATIVE_THREADS, NativeModel, Readout};
use autoreg_tokens::{FrameLayout, Pipeline};
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

/// What computes the logits of evaluation windows.
#[derive(Clone, Copy)]
pub enum Scorer<'m> {
    /// libtorch, a batch of windows at once, on this device.
    Torch(Device),
    /// The native decoder (over f32 or int8 weights), a window at a time, on the CPU.
    Native(&'m NativeModel),
}

/// Bytes of logits (and their log-softmax) that one evaluation batch may take: larger
/// batches are cut, whatever the batch size asked for.
const LOGITS_BUDGET: f64 = (1u64 << 30) as f64;

/// One evaluation window: inputs and targets of the same length, targets [`IGNORE`]d
/// where they were predicted by an earlier window.
type Window = (Vec<u32>, Vec<i64>);

/// The first window of `doc`, which reads it from its start and predicts
/// `doc[1..=first]`, and `first + 1`, the next token to predict; `None` for a document
/// of fewer than two tokens.
fn first_window(doc: &[u32], block: usize) -> Option<(Window, usize)> {
    if doc.len() < 2 {
        return None;
    }
    let first = block.min(doc.len() - 1);
    Some(((doc[..first].to_vec(), doc[1..=first].iter().map(|&t| i64::from(t)).collect()), first + 1))
}

/// The windows of `doc` that predict each of its tokens after the first once, with at
/// most `block` inputs each. The first window reads the document from its start. With
/// `prefix` tokens kept (see [`Tokenizer::prefix_len`]; 0 for stream windows), every
/// later one starts with them, as training windows do: the prefix, then the tokens that
/// follow the previous window, the last prefix token predicting the first of them.
fn windows_of(doc: &[u32], block: usize, prefix: usize) -> impl Iterator<Item = Window> + '_ {
    let prefix = prefix.min(block.saturating_sub(1));
    windows_after_first(doc, block, move |next| {
        // Targets doc[next..end]; inputs the prefix or the token before `next`, then the
        // tokens up to the last target.
        let (mut x, mut y, end) = if prefix == 0 {
            (vec![doc[next - 1]], Vec::new(), (next + block).min(doc.len()))
        } else {
            (doc[..prefix].to_vec(), vec![IGNORE; prefix - 1], (next + block + 1 - prefix).min(doc.len()))
        };
        x.extend_from_slice(&doc[next..end - 1]);
        y.extend(doc[next..end].iter().map(|&t| i64::from(t)));
        ((x, y), end)
    })
}

/// Overlapping windows of `doc` that predict each of its tokens after the first once,
/// with at most `block` inputs each. The first window reads the document from its
/// start; each later one scores the next `stride` tokens (at most `block - prefix`) with
/// as much context before them as fits, behind the document's `prefix` tokens. So every
/// scored token past the first window sees at least `block - prefix - stride` tokens
/// before it, and the prefix.
fn strided_windows_of(doc: &[u32], block: usize, prefix: usize, stride: usize) -> impl Iterator<Item = Window> + '_ {
    let prefix = prefix.min(block.saturating_sub(1));
    let stride = stride.clamp(1, block - prefix);
    windows_after_first(doc, block, move |next| {
        let end = (next + stride).min(doc.len());
        // The tokens read: the prefix, then doc[start..end], block + 1 in all (end > block + 1
        // past the first window, so start > prefix); targets from doc[next] on are scored.
        let start = prefix + end - 1 - block;
        let w: Vec<u32> = doc[..prefix].iter().chain(&doc[start..end]).copied().collect();
        let scored = prefix + next - start;
        let y = (1..w.len()).map(|m| if m >= scored { i64::from(w[m]) } else { IGNORE }).collect();
        ((w[..w.len() - 1].to_vec(), y), end)
    })
}

/// The [`first_window`] of `doc`, then, lazily, the windows `later` makes from the next
/// token to predict (each with the token after its last target) until the document
/// ends.
fn windows_after_first<'a>(
    doc: &'a [u32],
    block: usize,
    mut later: impl FnMut(usize) -> (Window, usize) + 'a,
) -> impl Iterator<Item = Window> + 'a {
    // Without a first window (a document of fewer than two tokens), none after it.
    let (first, mut next) = first_window(doc, block).map_or((None, doc.len()), |(w, next)| (Some(w), next));
    first.into_iter().chain(std::iter::from_fn(move || {
        (next < doc.len()).then(|| {
            let (window, end) = later(next);
            next = end;
            window
        })
    }))
}

/// The windows of `doc` that predict each of its tokens after the first once, frame by
/// frame, with the contexts that sampling slides through: the first window reads the
/// document from its start, up to `layout.span()` inputs; each later one predicts one
/// frame, reading the `layout.context` whole frames before it (never more than `block`
/// inputs, should a document's frames be irregular).
fn frame_windows_of(doc: &[u32], block: usize, layout: FrameLayout) -> Vec<Window> {
    let Some((first, mut next)) = first_window(doc, layout.span().min(block)) else { return Vec::new() };
    let mut windows = vec![first];
    let starts = layout.starts(doc);
    while next < doc.len() {
        // The frame that holds `next`, and where the next one starts.
        let f = starts.partition_point(|&s| s <= next).saturating_sub(1);
        let end = starts.get(f + 1).copied().filter(|&e| e > next).unwrap_or(doc.len());
        let from = starts.get(f.saturating_sub(layout.context)).copied().unwrap_or(0).min(next - 1);
        let from = from.max((end - 1).saturating_sub(block));
        let y = (from + 1..end).map(|m| if m >= next { i64::from(doc[m]) } else { IGNORE }).collect();
        windows.push((doc[from..end - 1].to_vec(), y));
        next = end;
    }
    windows
}

/// Evaluates `model` on every document of `store`, in windows of at most `block_size`
/// tokens: every token after a document's first is predicted once. With `stride`, the
/// windows overlap ([`strided_windows_of`]) so that every token has context; without,
/// the context restarts at each window. With [`Cut::Documents`] windows past the
/// first keep the document's prefix (BOS, class) in front, as in training; with
/// [`Cut::Frames`] they are [`frame_windows_of`], whatever `stride`. `batch`
/// windows are evaluated at once, fewer when their logits would take more than 1 GiB.
/// `scorer` computes the logits of `model`'s weights.
pub fn evaluate(
    model: &Gpt,
    scorer: Scorer<'_>,
    store: &TokenStore,
    windows: Cut,
    tokenizer: Pipeline<'_>,
    batch: usize,
    stride: Option<usize>,
) -> Evaluation {
    let block = model.config().block_size as usize;
    let pad = i64::from(tokenizer.specials().pad);
    let per_window = 2.0 * 4.0 * block as f64 * model.vocab_size() as f64;
    let batch = batch.min((LOGITS_BUDGET / per_window) as usize).max(1);
    let mut total = 0.0;
    let mut tokens = 0;
    let vocab = model.vocab_size() as usize;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(NATIVE_THREADS));
    let mut run = |chunk: &[Window]| {
        let device = match scorer {
            Scorer::Torch(device) => device,
            Scorer::Native(native) => {
                for (x, y) in chunk {
                    let mut cache = native.new_cache(1);
                    let logits = native.forward(x, x.len(), &mut cache, threads, Readout::All); // (t, V)
                    for (row, &target) in logits.chunks_exact(vocab).zip(y).filter(|(_, y)| **y != IGNORE) {
                        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                        let sum: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
                        total += sum.ln() + f64::from(max) - f64::from(row[target as usize]);
                        tokens += 1;
                    }
                }
                return;
            }
        };
        let t = chunk.iter().map(|(x, _)| x.len()).max().unwrap_or(1);
        let mut x = vec![pad; chunk.len() * t];
        let mut y = vec![IGNORE; chunk.len() * t];
        for (i, (xs, ys)) in chunk.iter().enumerate() {
            for (j, (&a, &b)) in xs.iter().zip(ys).enumerate() {
                x[i * t + j] = i64::from(a);
                y[i * t + j] = b;
            }
            tokens += ys.iter().filter(|&&b| b != IGNORE).count();
        }
        let shape = [chunk.len() as i64, t as i64];
        let x = Tensor::from_slice(&x).view(shape).to_device(device);
        let y = Tensor::from_slice(&y).view([-1]).to_device(device);
        let logits = model.forward_t(&x, false).view([-1, model.vocab_size()]); // (B*T, V)
        let loss = logits.cross_entropy_loss::<Tensor>(&y, None, Reduction::Sum, IGNORE, 0.0);
        total += loss.double_value(&[]);
    };
    // The windows of one document after another, a batch at a time: the split is read
    // as it is evaluated, never held whole.
    tch::no_grad(|| {
        let mut pending: Vec<Window> = Vec::new();
        for d in store.docs() {
            let prefix = if windows == Cut::Documents { tokenizer.prefix_len(&d) } else { 0 };
            let of_doc: Box<dyn Iterator<Item = Window>> = match (windows, stride) {
                (Cut::Frames(layout), _) => Box::new(frame_windows_of(&d, block, layout).into_iter()),
                (_, Some(stride)) => Box::new(strided_windows_of(&d, block, prefix, stride)),
                (_, None) => Box::new(windows_of(&d, block, prefix)),
            };
            for window in of_doc {
                pending.push(window);
                if pending.len() == batch {
                    run(&pending);
                    pending.clear();
                    // What was read leaves the process's resident memory.
                    store.release_pages();
                }
            }
        }
        if !pending.is_empty() {
            run(&pending);
        }
    });
    let documents = store.num_docs();
    let per_unit = tokenizer.unit().map(|unit| {
        let units: usize = store.docs().map(|d| tokenizer.count_units(&d)).sum();
        (unit, units, if units > 0 { total / units as f64 } else { f64::NAN })
    });
    Evaluation { documents, tokens, loss: if tokens > 0 { total / tokens as f64 } else { f64::NAN }, per_unit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoreg_model::{ModelConfig, Weights};
    use autoreg_text::TextTokenizer;
    use autoreg_tokens::{Identity, Modality};

    /// The targets of `windows` that are predicted, in order.
    fn predicted(windows: &[Window]) -> Vec<i64> {
        windows.iter().flat_map(|(_, y)| y.iter().copied().filter(|&t| t != IGNORE)).collect()
    }

    #[test]
    fn windows_past_the_first_keep_the_prefix_and_predict_each_token_once() {
        let doc: Vec<u32> = (100..120).collect(); // BOS-like 100, class-like 101
        let w: Vec<Window> = windows_of(&doc, 8, 2).collect();
        assert_eq!(w[0], ((100..108).collect(), (101..109).collect()));
        // The prefix, then the tokens after the previous window; the class token is
        // not predicted again, the last prefix token predicts the first new token.
        assert_eq!(w[1].0, [100, 101, 109, 110, 111, 112, 113, 114]);
        assert_eq!(w[1].1, [IGNORE, 109, 110, 111, 112, 113, 114, 115]);
        assert!(w.iter().all(|(x, y)| x.len() == y.len() && x.len() <= 8 && x[..2] == [100, 101]));
        assert_eq!(predicted(&w), (101..120).collect::<Vec<_>>());
        // A BOS-only prefix, and stream windows (context restarts, no prefix).
        let w: Vec<Window> = windows_of(&doc, 8, 1).collect();
        assert!(w[1..].iter().all(|(x, y)| x[0] == 100 && y[0] != IGNORE));
        assert_eq!(predicted(&w), (101..120).collect::<Vec<_>>());
        let w: Vec<Window> = windows_of(&doc, 8, 0).collect();
        assert_eq!(w[1], ((108..116).collect(), (109..117).collect()));
        assert_eq!(predicted(&w), (101..120).collect::<Vec<_>>());
    }

    #[test]
    fn strided_windows_predict_each_token_once_with_context() {
        let doc: Vec<u32> = (100..140).collect(); // BOS-like 100, class-like 101
        for (prefix, stride) in [(0, 4), (2, 3), (1, 7), (2, 100)] {
            let w: Vec<Window> = strided_windows_of(&doc, 8, prefix, stride).collect();
            assert_eq!(w[0], ((100..108).collect(), (101..109).collect()));
            assert_eq!(predicted(&w), (101..140).collect::<Vec<_>>(), "prefix {prefix} stride {stride}");
            let stride = stride.min(8 - prefix);
            for (x, y) in &w[1..] {
                assert!(x.len() == y.len() && x.len() <= 8 && x[..prefix] == doc[..prefix]);
                // Each scored target has the whole window before it: at least
                // block - prefix - stride tokens after the prefix.
                let first_scored = y.iter().position(|&t| t != IGNORE).unwrap();
                assert!(first_scored + 1 >= 8 - stride, "prefix {prefix} stride {stride}: {x:?} {y:?}");
                // Inputs continue the document: the token before each target is its input.
                for (i, &t) in y.iter().enumerate().filter(|(_, t)| **t != IGNORE) {
                    assert_eq!(i64::from(x[i]) + 1, t);
                }
            }
        }
    }

    #[test]
    fn frame_windows_predict_each_frame_after_its_context() {
        // BOS 90, six frames of four (token 99, three pixels), EOS 91.
        let doc: Vec<u32> = [90].into_iter().chain((0..6).flat_map(|f| [99, f, f + 10, f + 20])).chain([91]).collect();
        let layout = FrameLayout { token: 99, len: 4, context: 2 };
        let w = frame_windows_of(&doc, 16, layout);
        assert_eq!(predicted(&w), doc[1..].iter().map(|&t| i64::from(t)).collect::<Vec<_>>());
        // The first window reads frames 0 to 2 behind BOS; each later one starts two frames
        // before the frame it scores and reads at most `span` tokens.
        assert_eq!(w[0].0, doc[..12]);
        assert_eq!(w.len(), 4);
        for (k, (x, y)) in w[1..].iter().enumerate() {
            assert_eq!(x[..2], [99, k as u32 + 1], "window {k}: {x:?}");
            assert!(x.len() <= 12 && x.len() == y.len());
            assert_eq!(y.iter().filter(|&&t| t != IGNORE).count(), if k == 2 { 5 } else { 4 });
        }
    }

    #[test]
    fn every_token_after_the_first_is_counted_once() {
        let tok = TextTokenizer::byte();
        tch::manual_seed(0);
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let config = ModelConfig { n_layer: 1, n_head: 1, n_embd: 8, block_size: 8, ..Default::default() };
        let model = Gpt::new(&vs.root(), &config, tok.vocab_size() as i64, tch::Kind::Float);
        let mut store = TokenStore::new();
        store.push(&(0..30).collect::<Vec<u32>>());
        store.push(&[5, 6, 7]);
        for windows in [Cut::Stream, Cut::Documents] {
            for stride in [None, Some(4)] {
                let identity = Identity { vocab_size: tok.vocab_size() };
                let pipeline = Pipeline::new(&tok, &identity);
                let e = evaluate(&model, Scorer::Torch(Device::Cpu), &store, windows, pipeline, 2, stride);
                assert_eq!((e.documents, e.tokens), (2, 31));
                assert!(e.loss.is_finite() && e.loss > 0.0, "{e:?}");
                // The native decoder's loss is libtorch's, to rounding; int8's near it.
                for (weights, tolerance) in [(Weights::F32, 1e-5), (Weights::Int8, 0.01)] {
                    let native = NativeModel::new(&model, weights).unwrap();
                    let n = evaluate(&model, Scorer::Native(&native), &store, windows, pipeline, 2, stride);
                    assert_eq!((n.documents, n.tokens), (e.documents, e.tokens));
                    assert!((n.loss - e.loss).abs() <= tolerance * e.loss, "{weights}: {n:?} vs {e:?}");
                }
            }
        }
    }
}
