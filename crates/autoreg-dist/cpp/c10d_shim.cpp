// A C interface to PyTorch's distributed engine (c10d) for autoreg's Rust code.
//
// tch has no distributed bindings, and c10d is C++ only, so this file is the one place
// where C++ meets Rust: it opens a TCPStore rendezvous, builds a process group on it
// (ProcessGroupGloo; ProcessGroupNCCL through nccl_plugin.cpp), and runs collectives on the
// at::Tensor handles that tch passes in. No C++ exception crosses the boundary: every
// function catches, and returns the message through `err` (freed by ar_free_string).

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <c10/util/Logging.h>

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "guard.h"

struct ar_group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
};

namespace {

using autoreg::guarded;

at::Tensor& tensor_of(void* handle) {
  // tch's C_tensor handles are at::Tensor pointers (torch-sys's libtch/torch_api.h).
  return *static_cast<at::Tensor*>(handle);
}

void wait_for(ar_group* group, c10::intrusive_ptr<c10d::Work> work) {
  work->wait(group->timeout);
}

using NcclBackendNew = int32_t (*)(void*, int32_t, int32_t, int32_t, int64_t, void**, char**);

// ProcessGroupNCCL from the plugin at `plugin` (nccl_plugin.cpp), on GPU `device_index`.
c10::intrusive_ptr<c10d::Backend> nccl_backend(
    const char* plugin,
    c10d::Store* store,
    int32_t rank,
    int32_t world_size,
    int32_t device_index,
    std::chrono::milliseconds timeout) {
  if (plugin == nullptr) {
    throw std::runtime_error(
        "this build of autoreg has no NCCL plugin: it was built without libtorch's CUDA "
        "libraries and headers (run `cargo setup`, then rebuild)");
  }
  void* lib = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    throw std::runtime_error(std::string("cannot load the NCCL plugin: ") + dlerror());
  }
  auto create = reinterpret_cast<NcclBackendNew>(dlsym(lib, "ar_nccl_backend_new"));
  if (create == nullptr) {
    throw std::runtime_error(std::string(plugin) + " has no ar_nccl_backend_new");
  }
  void* backend = nullptr;
  char* err = nullptr;
  if (create(store, rank, world_size, device_index, timeout.count(), &backend, &err) != 0) {
    std::string message = err != nullptr ? err : "no message";
    std::free(err);
    throw std::runtime_error(message);
  }
  return c10::intrusive_ptr<c10d::Backend>::reclaim(static_cast<c10d::Backend*>(backend));
}

} // namespace

extern "C" {

ar_group* ar_group_new(
    const char* backend,
    const char* host,
    uint16_t port,
    int32_t rank,
    int32_t world_size,
    int64_t timeout_ms,
    int32_t store_is_external,
    const char* nccl_plugin,
    int32_t device_index,
    char** err) {
  ar_group* group = nullptr;
  guarded(err, [&] {
    // c10d logs each failed attempt with a C++ stack trace; its final error comes back
    // to Rust as a message, so keep those logs quiet unless the user asked for them.
    if (std::getenv("TORCH_CPP_LOG_LEVEL") == nullptr) {
      FLAGS_caffe2_log_level = 3; // FATAL
      c10::UpdateLoggingLevelsFromFlags();
    }
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions opts;
    opts.port = port;
    // Rank 0 hosts the rendezvous unless a launcher (torchrun's agent) already does.
    opts.isServer = rank == 0 && store_is_external == 0;
    opts.numWorkers = static_cast<std::size_t>(world_size);
    opts.waitWorkers = true;
    opts.timeout = timeout;
    opts.multiTenant = true;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    // Keys of this run stay apart from a launcher's own.
    auto store = c10::make_intrusive<c10d::PrefixStore>("autoreg", tcp);
    c10::intrusive_ptr<c10d::Backend> pg;
    std::string name(backend);
    if (name == "gloo") {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // As torch.distributed does: GLOO_SOCKET_IFNAME picks the interface, else the
      // address this machine's hostname resolves to (loopback when it resolves to none).
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else {
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
    } else if (name == "nccl") {
      pg = nccl_backend(nccl_plugin, store.get(), rank, world_size, device_index, timeout);
    } else {
      throw std::invalid_argument("unknown c10d backend \"" + name + "\"");
    }
    group = new ar_group{store, pg, timeout};
  });
  return group;
}

void ar_group_free(ar_group* group) {
  delete group;
}

int32_t ar_all_reduce_sum(ar_group* group, void* tensor, char** err) {
  return guarded(err, [&] {
    std::vector<at::Tensor> tensors{tensor_of(tensor)};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = group->timeout;
    wait_for(group, group->backend->allreduce(tensors, opts));
  });
}

int32_t ar_broadcast(ar_group* group, void* tensor, int32_t root, char** err) {
  return guarded(err, [&] {
    std::vector<at::Tensor> tensors{tensor_of(tensor)};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = group->timeout;
    wait_for(group, group->backend->broadcast(tensors, opts));
  });
}

int32_t ar_barrier(ar_group* group, int64_t timeout_ms, char** err) {
  return guarded(err, [&] {
    c10d::BarrierOptions opts;
    opts.timeout = std::chrono::milliseconds(timeout_ms);
    group->backend->barrier(opts)->wait(opts.timeout);
  });
}

void ar_free_string(char* s) {
  std::free(s);
}

} // extern "C"
