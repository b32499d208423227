// See README.md: the one member of gloo::Context that ProcessGroupGloo.hpp's inline code names.
#pragma once
#include <chrono>

namespace gloo {
class Context {
 public:
  void setTimeout(std::chrono::milliseconds timeout);
};
} // namespace gloo
