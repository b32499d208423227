// autoreg's NCCL plugin: builds c10d's ProcessGroupNCCL for the shim (c10d_shim.cpp).
//
// It is a shared library of its own, opened only when a CUDA run asks for NCCL, so
// that a run on the CPU never loads libtorch_cuda or libnccl.

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "guard.h"

extern "C" __attribute__((visibility("default"))) int32_t ar_nccl_backend_new(
    void* store,
    int32_t rank,
    int32_t world_size,
    int32_t device_index,
    int64_t timeout_ms,
    void** backend,
    char** err) {
  return autoreg::guarded(err, [&] {
    auto shared = c10::intrusive_ptr<c10d::Store>::reclaim_copy(static_cast<c10d::Store*>(store));
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = std::chrono::milliseconds(timeout_ms);
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(shared, rank, world_size, options);
    // Each rank holds one GPU: collectives and barriers run on it.
    pg->setBoundDeviceId(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device_index)));
    *backend = static_cast<c10d::Backend*>(pg.release());
  });
}
