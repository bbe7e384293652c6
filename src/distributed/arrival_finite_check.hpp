#pragma once
// Checks a tensor for NaN and infinity as its bytes arrive from a socket, a piece at a time
// while the piece is still in cache, instead of in a pass over the whole tensor from memory
// once it is complete: the parameter server refuses such updates, and on a link as fast as the
// copy itself that extra pass is a large part of a round.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "democratising/core/tensor.hpp"
#include "democratising/ops/finite.hpp"

namespace dm::dist::wire {

class ArrivalFiniteCheck {
 public:
  /// `tensor`: one dimension, contiguous, being filled front to back. Without `wanted` nothing
  /// is checked and finite() says true.
  ArrivalFiniteCheck(const Tensor& tensor, bool wanted) : tensor_(tensor), wanted_(wanted) {}

  /// The first `bytes` of the tensor's memory are final: checks the whole elements among them
  /// not checked yet; an element cut by the end of a piece waits for the next one.
  void arrived(std::size_t bytes) {
    if (!wanted_ || !finite_) return;
    const auto whole = static_cast<std::int64_t>(bytes / itemsize(tensor_.dtype()));
    if (whole <= checked_) return;
    // In slices small enough for the backend to check on this thread: a piece is a few hundred
    // KiB, and handing that to the pool would wake its threads for microseconds of work.
    while (checked_ < whole && finite_) {
      const std::int64_t n = std::min(whole - checked_, kSliceElements);
      finite_ = all_finite(tensor_.narrow(0, checked_, n));
      checked_ += n;
    }
  }

  /// Whether every element is finite; asked only once the whole tensor has arrived.
  bool finite() const {
    if (wanted_ && finite_ && checked_ != tensor_.numel())
      throw std::logic_error("[ArrivalFiniteCheck] asked before the whole tensor arrived");
    return finite_;
  }

 private:
  static constexpr std::int64_t kSliceElements = 16384;
  Tensor tensor_;
  bool wanted_;
  bool finite_ = true;
  std::int64_t checked_ = 0;  // elements
};

}  // namespace dm::dist::wire
