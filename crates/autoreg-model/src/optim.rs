//! The optimizer, written over plain tensors because tch's optimizers cannot save their
//! moments and an exact resume needs them: AdamW (libtorch's fused kernel, through
//! cpp/fused_adamw.cpp), or Muon for the hidden matrices with AdamW for the rest.

use serde::{Deserialize, Serialize};
use std::ffi::{CStr, c_char, c_void};
use tch::{Kind, Tensor, nn};

/// Optimizer hyper-parameters (the learning rate is given at each step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    /// β₁, the decay of AdamW's first moment.
    pub beta1: f64,
    /// β₂, the decay of AdamW's second moment.
    pub beta2: f64,
    /// ε added to AdamW's denominator.
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices only (not biases, norms).
    pub weight_decay: f64,
    /// Muon for the 2-D matrices of the transformer blocks; `None`: AdamW for all.
    pub muon: Option<MuonConfig>,
}

/// Muon (Keller Jordan, 2024, "Muon: an optimizer for hidden layers in neural
/// networks"): SGD with Nesterov momentum whose update is orthogonalised by a few
/// Newton-Schulz iterations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MuonConfig {
    /// Muon's learning rate over AdamW's, so that one schedule drives both.
    pub lr_scale: f64,
    /// Momentum (0.95 in the reference).
    pub momentum: f64,
}

/// How a parameter is updated, with its state.
enum Rule {
    /// AdamW's first and second moments.
    Adam { m: Tensor, v: Tensor },
    /// Muon's momentum buffer, and its settings.
    Muon { buf: Tensor, muon: MuonConfig },
}

/// One parameter with its state.
struct Slot {
    name: String,
    param: Tensor,
    rule: Rule,
    decay: bool,
}

/// AdamW (as `torch.optim.AdamW` computes it), or Muon and AdamW, over every trainable
/// variable of a `VarStore`.
pub struct Optimizer {
    config: OptimConfig,
    slots: Vec<Slot>,
    step: i64,
}

/// Whether Muon takes the variable `name` of `dims` dimensions: the 2-D matrices of the
/// blocks (`h.<i>....weight`), not the embeddings, whose rows are looked up, not mixed.
fn takes_muon(name: &str, dims: usize) -> bool {
    dims == 2 && name.starts_with("h.")
}

impl Optimizer {
    /// State starts at zero. Variables of two or more dimensions get weight decay.
    pub fn new(vs: &nn::VarStore, config: OptimConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .filter(|(_, p)| p.requires_grad())
            .map(|(name, param)| Slot {
                rule: match &config.muon {
                    Some(muon) if takes_muon(&name, param.dim()) => {
                        Rule::Muon { buf: param.zeros_like(), muon: muon.clone() }
                    }
                    _ => Rule::Adam { m: param.zeros_like(), v: param.zeros_like() },
                },
                decay: param.dim() >= 2,
                name,
                param,
            })
            .collect();
        Self { config, slots, step: 0 }
    }
    /// Number of updates made so far.
    pub fn step_count(&self) -> i64 {
        self.step
    }

    /// Gradients of `loss` with respect to every parameter, in the optimizer's order.
    /// They are returned, not accumulated into the parameters' `.grad` (as PyTorch's
    /// `zero_grad(set_to_none=True)` would leave them), which saves a zeroing and an
    /// addition per parameter and step.
    pub fn gradients(&self, loss: &Tensor) -> Vec<Tensor> {
        let params: Vec<&Tensor> = self.slots.iter().map(|s| &s.param).collect();
        Tensor::run_backward(&[loss], &params, false, false)
    }

    /// Scales `grads` in place so that their global L2 norm is at most `max_norm`
    /// (as `torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
    pub fn clip_grad_norm(grads: &mut [Tensor], max_norm: f64) -> f64 {
        let norms: Vec<Tensor> = grads.iter().filter(|g| g.defined()).map(|g| g.norm()).collect();
        if norms.is_empty() {
            return 0.0;
        }
        let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
        let coef = (max_norm / (total + 1e-6)).min(1.0);
        if coef < 1.0 {
            tch::no_grad(|| grads.iter_mut().filter(|g| g.defined()).for_each(|g| drop(g.g_mul_scalar_(coef))));
        }
        total
    }

    /// One update from `grads`, as given by [`Optimizer::gradients`] (undefined
    /// gradients leave their parameter as it is), with AdamW's learning rate `lr` (and
    /// Muon's `lr · lr_scale`). AdamW runs fused, one kernel per weight-decay group, as
    /// `torch.optim.AdamW(fused=True)` does; an error is libtorch's message.
    pub fn step(&mut self, grads: &[Tensor], lr: f64) -> Result<(), String> {
        self.step += 1;
        let OptimConfig { beta1, beta2, eps, weight_decay, .. } = self.config;
        for decay in [true, false] {
            let group: Vec<[&Tensor; 4]> = self
                .slots
                .iter()
                .zip(grads)
                .filter_map(|(s, g)| match &s.rule {
                    Rule::Adam { m, v } if s.decay == decay && g.defined() => Some([&s.param, g, m, v]),
                    _ => None,
                })
                .collect();
            let decay = if decay { weight_decay } else { 0.0 };
            fused_adamw(&group, self.step, [lr, beta1, beta2, decay, eps])?;
        }
        tch::no_grad(|| {
            for (s, g) in self.slots.iter_mut().zip(grads) {
                let Rule::Muon { buf, muon } = &mut s.rule else { continue };
                if !g.defined() {
                    continue;
                }
                let (lr, momentum) = (lr * muon.lr_scale, muon.momentum);
                if weight_decay > 0.0 {
                    let _ = s.param.g_mul_scalar_(1.0 - lr * weight_decay);
                }
                // Nesterov momentum as in the reference: buf ← μ·buf + (1-μ)·g, then the
                // update is (1-μ)·g + μ·buf.
                let _ = buf.lerp_(g, 1.0 - momentum);
                let mut update = orthogonalise(&g.lerp(&*buf, momentum));
                // Scaled so that tall and wide matrices move alike (the reference's
                // max(1, rows / cols)^0.5).
                let (rows, cols) = (g.size()[0] as f64, g.size()[1] as f64);
                let _ = s.param.g_add_(&update.g_mul_scalar_(-lr * (rows / cols).max(1.0).sqrt()));
            }
        });
        Ok(())
    }

    /// The state as named tensors (`m.<var>` and `v.<var>` for AdamW, `muon.<var>` for
    /// Muon), for saving.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .flat_map(|s| match &s.rule {
                Rule::Adam { m, v } => {
                    vec![(format!("m.{}", s.name), m.shallow_clone()), (format!("v.{}", s.name), v.shallow_clone())]
                }
                Rule::Muon { buf, .. } => vec![(format!("muon.{}", s.name), buf.shallow_clone())],
            })
            .collect()
    }

    /// Restores state saved by [`Optimizer::state`] and the step count.
    pub fn load_state(&mut self, named: &[(String, Tensor)], step: i64) -> Result<(), String> {
        let find = |key: &str| {
            named.iter().find(|(n, _)| n == key).map(|(_, t)| t).ok_or(format!("optimizer state has no `{key}`"))
        };
        for s in &mut self.slots {
            let name = &s.name;
            let targets: Vec<(String, &mut Tensor)> = match &mut s.rule {
                Rule::Adam { m, v } => vec![(format!("m.{name}"), m), (format!("v.{name}"), v)],
                Rule::Muon { buf, .. } => vec![(format!("muon.{name}"), buf)],
            };
            for (key, dst) in targets {
                let src = find(&key)?;
                if src.size() != dst.size() {
                    return Err(format!(
                        "optimizer state `{key}` has shape {:?}, expected {:?}",
                        src.size(),
                        dst.size()
                    ));
                }
                tch::no_grad(|| dst.copy_(src));
            }
        }
        self.step = step;
        Ok(())
    }
}

unsafe extern "C" {
    /// cpp/fused_adamw.cpp.
    fn ar_fused_adamw(
        params: *const *mut c_void,
        grads: *const *mut c_void,
        exp_avgs: *const *mut c_void,
        exp_avg_sqs: *const *mut c_void,
        n: usize,
        step: f64,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        err: *mut *mut c_char,
    ) -> i32;
}

/// One fused AdamW update (`at::_fused_adamw_`) of each `[param, grad, m, v]` of `group`
/// at step `step`, with `[lr, beta1, beta2, weight_decay, eps]`.
fn fused_adamw(group: &[[&Tensor; 4]], step: i64, [lr, beta1, beta2, decay, eps]: [f64; 5]) -> Result<(), String> {
    let list = |i: usize| group.iter().map(|t| t[i].as_ptr() as *mut c_void).collect::<Vec<_>>();
    let (params, grads, m, v) = (list(0), list(1), list(2), list(3));
    let mut err: *mut c_char = std::ptr::null_mut();
    // SAFETY: the four lists hold `group.len()` live tensor handles each, which the call
    // only borrows; the shim reports failure through `err`, a malloc'd string freed here.
    let failed = unsafe {
        ar_fused_adamw(
            params.as_ptr(),
            grads.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            group.len(),
            step as f64,
            lr,
            beta1,
            beta2,
            decay,
            eps,
            &mut err,
        )
    };
    if failed == 0 {
        return Ok(());
    }
    if err.is_null() {
        return Err("the fused AdamW step failed without a message".to_owned());
    }
    // SAFETY: a NUL-terminated string from malloc, which we own.
    let message = unsafe { CStr::from_ptr(err) }.to_string_lossy().trim().to_owned();
    unsafe { libc::free(err.cast()) };
    Err(format!("the fused AdamW step failed: {message}"))
}

/// The nearest semi-orthogonal matrix to `g` (2-D), approximately: `U Vᵀ` of its SVD
/// `U S Vᵀ`, by five iterations of the quintic Newton-Schulz map `X ← aX + (bA + cA²)X`,
/// `A = X Xᵀ`, from `X = G / ‖G‖`. The coefficients (3.4445, -4.7750, 2.0315) are Keller
/// Jordan's, from the Muon reference (modded-nanogpt): chosen to push every singular value
/// into roughly [0.7, 1.2] in five steps, not to converge to exactly 1.
fn orthogonalise(g: &Tensor) -> Tensor {
    let (a, b, c) = (3.4445, -4.7750, 2.0315);
    let tall = g.size()[0] > g.size()[1];
    let mut x = if tall { g.tr() } else { g.shallow_clone() }; // (rows ≤ cols)
    x = &x / (x.norm().to_kind(Kind::Float) + 1e-7);
    for _ in 0..5 {
        let gram = x.matmul(&x.tr());
        let poly = &gram * b + gram.matmul(&gram) * c;
        x = &x * a + poly.matmul(&x);
    }
    if tall { x.tr() } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn setup() -> (nn::VarStore, Tensor, Tensor) {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[2, 2], nn::Init::Const(1.0));
        let b = vs.root().var("b", &[2], nn::Init::Const(1.0));
        (vs, w, b)
    }

    fn config() -> OptimConfig {
        OptimConfig { beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.5, muon: None }
    }

    #[test]
    fn first_step_moves_each_weight_by_lr_against_its_gradient_and_decays_matrices() {
        let (vs, w, b) = setup();
        let mut opt = Optimizer::new(&vs, config());
        // Gradients: d/dw sum(w * c) = c, with c of mixed signs.
        let c = Tensor::from_slice(&[2.0f32, -3.0, 0.5, -0.25]).view([2, 2]);
        let grads = opt.gradients(&((&w * &c).sum(Kind::Float) + (&b * 4.0).sum(Kind::Float)));
        opt.step(&grads, 0.1).unwrap();
        // After one step m̂ = g and v̂ = g², so the update is -lr·sign(g); matrices are
        // first scaled by 1 - lr·wd = 0.95, vectors are not.
        let w_now = Vec::<f32>::try_from(w.view([-1])).unwrap();
        for (got, g) in w_now.iter().zip([2.0f32, -3.0, 0.5, -0.25]) {
            assert!((got - (0.95 - 0.1 * g.signum())).abs() < 1e-5, "{got}");
        }
        let b_now = Vec::<f32>::try_from(&b).unwrap();
        assert!(b_now.iter().all(|v| (v - 0.9).abs() < 1e-5), "{b_now:?}");
        assert_eq!(opt.step_count(), 1);
        assert!(!w.grad().defined(), "gradients are returned, not accumulated");
    }

    #[test]
    fn fused_steps_follow_torch_adamw_over_many_steps() {
        // torch.optim.AdamW written out (decoupled decay, bias-corrected moments), run
        // beside the fused kernel for ten steps of changing gradients and rates.
        let (vs, w, b) = setup();
        let mut opt = Optimizer::new(&vs, config());
        let OptimConfig { beta1, beta2, eps, weight_decay, .. } = config();
        // In the optimizer's order, by name: b, then w.
        let mut want =
            [(b.copy(), false), (w.copy(), true)].map(|(p, decay)| (p.zeros_like(), p.zeros_like(), p, decay));
        for t in 1..=10 {
            let c = Tensor::from_slice(&[1.5f32, -0.5, 0.25, -2.0]).view([2, 2]) * f64::from(t).sin();
            let loss = (&w * &w * &c).sum(Kind::Float) + (&b * f64::from(t)).sum(Kind::Float);
            let grads = opt.gradients(&loss);
            let lr = 0.01 / f64::from(t);
            for ((m, v, p, decay), g) in want.iter_mut().zip(&grads) {
                if *decay {
                    *p = &*p * (1.0 - lr * weight_decay);
                }
                *m = &*m * beta1 + g * (1.0 - beta1);
                *v = &*v * beta2 + g * g * (1.0 - beta2);
                let (bias1, bias2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                *p = &*p - (&*m / bias1) / ((&*v / bias2).sqrt() + eps) * lr;
            }
            opt.step(&grads, lr).unwrap();
        }
        for ((_, _, p, _), got) in want.iter().zip([&b, &w]) {
            assert!(got.allclose(p, 1e-6, 1e-7, false), "{got} vs {p}");
        }
    }

    #[test]
    fn clipping_scales_the_global_norm() {
        let (vs, w, b) = setup();
        let opt = Optimizer::new(&vs, config());
        let mut grads = opt.gradients(&((&w * 3.0).sum(Kind::Float) + (&b * 4.0).sum(Kind::Float)));
        // Gradient norm: sqrt(4·9 + 2·16) = sqrt(68).
        let norm = Optimizer::clip_grad_norm(&mut grads, 1.0);
        assert!((norm - 68f64.sqrt()).abs() < 1e-4);
        let squares: Vec<Tensor> = grads.iter().map(|g| g.pow_tensor_scalar(2).sum(Kind::Float)).collect();
        let after = Tensor::stack(&squares, 0).sum(Kind::Float).sqrt().double_value(&[]);
        assert!((after - 1.0).abs() < 1e-4, "{after}");
    }

    #[test]
    fn state_round_trips_and_is_checked() {
        let (vs, w, b) = setup();
        let mut opt = Optimizer::new(&vs, config());
        let grads = opt.gradients(&((&w * 2.0).sum(Kind::Float) + (&b * 0.0).sum(Kind::Float)));
        opt.step(&grads, 0.01).unwrap();
        let state: Vec<(String, Tensor)> = opt.state().into_iter().map(|(n, t)| (n, t.copy())).collect();
        let mut fresh = Optimizer::new(&vs, config());
        fresh.load_state(&state, 1).unwrap();
        for ((n1, a), (n2, b)) in opt.state().iter().zip(fresh.state().iter()) {
            assert_eq!(n1, n2);
            assert!(a.equal(b), "{n1}");
        }
        let err = fresh.load_state(&state[1..], 1).unwrap_err();
        assert_eq!(err, "optimizer state has no `m.b`");
    }

    #[test]
    fn orthogonalising_pushes_every_singular_value_near_one() {
        tch::manual_seed(3);
        for shape in [[8i64, 8], [6, 16], [16, 6]] {
            // Columns scaled over two decades: a badly conditioned matrix.
            let opts = (Kind::Float, Device::Cpu);
            let g = Tensor::randn(shape, opts) * Tensor::logspace(0.0, -2.0, shape[1], 10.0, opts);
            let x = orthogonalise(&g);
            assert_eq!(x.size(), g.size());
            let (_, sv, _) = x.svd(true, true);
            let sv = Vec::<f32>::try_from(sv).unwrap();
            // Five quintic steps leave them in about [0.7, 1.2] (a singular value far below
            // the largest grows about 3.4x a step, so 1e-2 of it gets there).
            assert!(sv.iter().all(|&s| (0.6..1.25).contains(&s)), "{shape:?}: {sv:?}");
        }
    }

    #[test]
    fn muon_takes_the_blocks_matrices_and_its_state_round_trips() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().sub("h").sub("0").var("weight", &[3, 4], nn::Init::Const(1.0));
        let e = vs.root().sub("wte").var("weight", &[5, 4], nn::Init::Const(1.0));
        let muon = MuonConfig { lr_scale: 10.0, momentum: 0.95 };
        let mut opt = Optimizer::new(&vs, OptimConfig { weight_decay: 0.0, muon: Some(muon), ..config() });
        let c = Tensor::from_slice(&[1.0f32, -2.0, 3.0, 0.5]).view([1, 4]);
        let loss = (&w * &c).sum(Kind::Float) + (&e * &c).sum(Kind::Float);
        let grads = opt.gradients(&loss);
        let before = w.copy();
        opt.step(&grads, 0.01).unwrap();
        let names: Vec<String> = opt.state().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["muon.h.0.weight", "m.wte.weight", "v.wte.weight"]);
        // The Muon update is the orthogonalised Nesterov step, times lr · lr_scale.
        let g = grads[0].copy();
        let want = &before - orthogonalise(&(&g * (0.05 * 0.95 + 0.05))) * 0.1;
        assert!(w.allclose(&want, 1e-5, 1e-5, false), "{w} vs {want}");
        // The embedding moved by AdamW's first step: lr against the gradient's sign.
        let e_now = Vec::<f32>::try_from(e.get(0)).unwrap();
        assert!(e_now.iter().zip([1.0f32, -2.0, 3.0, 0.5]).all(|(v, g)| (v - (1.0 - 0.01 * g.signum())).abs() < 1e-5));
        let state: Vec<(String, Tensor)> = opt.state().into_iter().map(|(n, t)| (n, t.copy())).collect();
        let mut fresh =
            Optimizer::new(&vs, OptimConfig { muon: Some(MuonConfig { lr_scale: 10.0, momentum: 0.95 }), ..config() });
        fresh.load_state(&state, 1).unwrap();
        assert!(fresh.state().iter().zip(&state).all(|((_, a), (_, b))| a.equal(b)));
        let adam_only = Optimizer::new(&vs, config()).load_state(&state, 1).unwrap_err();
        assert_eq!(adam_only, "optimizer state has no `m.h.0.weight`");
    }
}
