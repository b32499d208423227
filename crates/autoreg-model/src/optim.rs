//! AdamW written over plain tensors, because tch's optimizers cannot save their moments
//! and an exact resume needs them.

use serde::{Deserialize, Serialize};
use tch::{Tensor, nn};

/// AdamW hyper-parameters (the learning rate is given at each step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// β₁, the decay of the first moment.
    pub beta1: f64,
    /// β₂, the decay of the second moment.
    pub beta2: f64,
    /// ε added to the denominator.
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices only (not biases, norms).
    pub weight_decay: f64,
}

/// One parameter with its moments.
struct Slot {
    name: String,
    param: Tensor,
    m: Tensor,
    v: Tensor,
    decay: bool,
}

/// AdamW over every trainable variable of a `VarStore`, as `torch.optim.AdamW` computes it.
pub struct AdamW {
    config: AdamWConfig,
    slots: Vec<Slot>,
    step: i64,
}

impl AdamW {
    /// Moments start at zero. Variables of two or more dimensions get weight decay.
    pub fn new(vs: &nn::VarStore, config: AdamWConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .filter(|(_, p)| p.requires_grad())
            .map(|(name, param)| Slot {
                m: param.zeros_like(),
                v: param.zeros_like(),
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

    /// One update with learning rate `lr` from `grads`, as given by
    /// [`AdamW::gradients`] (undefined gradients leave their parameter as it is).
    pub fn step(&mut self, grads: &[Tensor], lr: f64) {
        self.step += 1;
        let AdamWConfig { beta1, beta2, eps, weight_decay } = self.config;
        let bias1 = 1.0 - beta1.powi(self.step as i32);
        let bias2 = 1.0 - beta2.powi(self.step as i32);
        tch::no_grad(|| {
            for (s, g) in self.slots.iter_mut().zip(grads) {
                if !g.defined() {
                    continue;
                }
                if s.decay && weight_decay > 0.0 {
                    let _ = s.param.g_mul_scalar_(1.0 - lr * weight_decay);
                }
                let _ = s.m.lerp_(g, 1.0 - beta1);
                let _ = s.v.g_mul_scalar_(beta2).addcmul_(g, &g.g_mul_scalar(1.0 - beta2));
                // param -= lr / bias1 · m / (√(v / bias2) + eps)
                let denom = s.v.sqrt().g_div_scalar_(bias2.sqrt()).g_add_scalar_(eps);
                let _ = s.param.g_add_(&(&s.m / denom).g_mul_scalar_(-lr / bias1));
            }
        });
    }

    /// The moments as named tensors (`m.<var>`, `v.<var>`), for saving.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .flat_map(|s| {
                [(format!("m.{}", s.name), s.m.shallow_clone()), (format!("v.{}", s.name), s.v.shallow_clone())]
            })
            .collect()
    }

    /// Restores moments saved by [`AdamW::state`] and the step count.
    pub fn load_state(&mut self, named: &[(String, Tensor)], step: i64) -> Result<(), String> {
        let find = |key: String| {
            named.iter().find(|(n, _)| *n == key).map(|(_, t)| t).ok_or(format!("optimizer state has no `{key}`"))
        };
        for s in &mut self.slots {
            for (key, dst) in [(format!("m.{}", s.name), &mut s.m), (format!("v.{}", s.name), &mut s.v)] {
                let src = find(key.clone())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn setup() -> (nn::VarStore, Tensor, Tensor) {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[2, 2], nn::Init::Const(1.0));
        let b = vs.root().var("b", &[2], nn::Init::Const(1.0));
        (vs, w, b)
    }

    fn config() -> AdamWConfig {
        AdamWConfig { beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.5 }
    }

    #[test]
    fn first_step_moves_each_weight_by_lr_against_its_gradient_and_decays_matrices() {
        let (vs, w, b) = setup();
        let mut opt = AdamW::new(&vs, config());
        // Gradients: d/dw sum(w * c) = c, with c of mixed signs.
        let c = Tensor::from_slice(&[2.0f32, -3.0, 0.5, -0.25]).view([2, 2]);
        let grads = opt.gradients(&((&w * &c).sum(Kind::Float) + (&b * 4.0).sum(Kind::Float)));
        opt.step(&grads, 0.1);
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
    fn clipping_scales_the_global_norm() {
        let (vs, w, b) = setup();
        let opt = AdamW::new(&vs, config());
        let mut grads = opt.gradients(&((&w * 3.0).sum(Kind::Float) + (&b * 4.0).sum(Kind::Float)));
        // Gradient norm: sqrt(4·9 + 2·16) = sqrt(68).
        let norm = AdamW::clip_grad_norm(&mut grads, 1.0);
        assert!((norm - 68f64.sqrt()).abs() < 1e-4);
        let squares: Vec<Tensor> = grads.iter().map(|g| g.pow_tensor_scalar(2).sum(Kind::Float)).collect();
        let after = Tensor::stack(&squares, 0).sum(Kind::Float).sqrt().double_value(&[]);
        assert!((after - 1.0).abs() < 1e-4, "{after}");
    }

    #[test]
    fn state_round_trips_and_is_checked() {
        let (vs, w, b) = setup();
        let mut opt = AdamW::new(&vs, config());
        let grads = opt.gradients(&((&w * 2.0).sum(Kind::Float) + (&b * 0.0).sum(Kind::Float)));
        opt.step(&grads, 0.01);
        let state: Vec<(String, Tensor)> = opt.state().into_iter().map(|(n, t)| (n, t.copy())).collect();
        let mut fresh = AdamW::new(&vs, config());
        fresh.load_state(&state, 1).unwrap();
        for ((n1, a), (n2, b)) in opt.state().iter().zip(fresh.state().iter()) {
            assert_eq!(n1, n2);
            assert!(a.equal(b), "{n1}");
        }
        let err = fresh.load_state(&state[1..], 1).unwrap_err();
        assert_eq!(err, "optimizer state has no `m.b`");
    }
}
