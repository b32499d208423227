// AdamW in one fused kernel per group of parameters: at::_fused_adamw_, the kernel
// behind torch.optim.AdamW(fused=True), on CPU and CUDA. tch's generated bindings leave
// out ATen's in-place operators over lists of tensors, so this file is the only way to
// reach it from Rust. Tensors come as tch's handles, which point to at::Tensor.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "guard.h"
#include <ATen/core/grad_mode.h>

namespace {

std::vector<at::Tensor> tensors_of(void* const* handles, size_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    out.push_back(*static_cast<const at::Tensor*>(handles[i]));
  }
  return out;
}

}  // namespace

extern "C" {

// One AdamW update of the `n` parameters `params` from `grads`, with moments `exp_avgs`
// and `exp_avg_sqs`, at optimizer step `step` (counted from 1, after this update);
// returns 0, or 1 with a message in `err` (malloc'd, for Rust to free).
int32_t ar_fused_adamw(void* const* params, void* const* grads, void* const* exp_avgs, void* const* exp_avg_sqs,
                       size_t n, double step, double lr, double beta1, double beta2, double weight_decay, double eps,
                       char** err) {
  return autoreg::guarded(err, [&] {
    if (n == 0) {
      return;
    }
    // In place on leaves that require gradients: allowed outside autograd only.
    at::NoGradGuard no_grad;
    auto p = tensors_of(params, n);
    // The kernel reads each parameter's step count from a tensor on its device; every
    // parameter here is at the same step.
    auto count = at::full({}, step, p[0].options().dtype(at::kFloat));
    std::vector<at::Tensor> steps(n, count);
    at::_fused_adamw_(p, tensors_of(grads, n), tensors_of(exp_avgs, n), tensors_of(exp_avg_sqs, n), {}, steps, lr,
                      beta1, beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
  });
}

}  // extern "C"
