// Turning C++ exceptions into messages for Rust, shared by every C++ file that the
// crates compile against libtorch (autoreg-model's fused AdamW, autoreg-dist's c10d shim
// and NCCL plugin).
#pragma once

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

namespace autoreg {

// A malloc'd copy of `s`, for Rust to free (with free, or a shim's ar_free_string).
inline char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, s.c_str(), s.size() + 1);
  }
  return out;
}

// Runs `f`, turning any exception into a message in `err`; returns 0 on success.
template <typename F>
int guarded(char** err, F&& f) {
  try {
    f();
    return 0;
  } catch (const c10::Error& e) {
    // c10's own errors carry a C++ stack trace that says nothing to a user.
    *err = copy_string(e.what_without_backtrace());
  } catch (const std::exception& e) {
    *err = copy_string(e.what());
  } catch (...) {
    *err = copy_string("unknown C++ exception");
  }
  return 1;
}

} // namespace autoreg
