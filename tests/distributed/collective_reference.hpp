#pragma once
// Inputs and naive references for the collective tests, shared by the in-process and the MPI
// runs. Each rank's input is a pure function of (rank, index), with values that are multiples
// of 1/4 below 2^10, so every sum of a few ranks is exact in f32 and the order in which a
// backend adds them cannot change the result: a mismatch is a real error, not rounding.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "democratising/distributed/world.hpp"
#include "democratising/core/tensor.hpp"

namespace dm::dist::testing {

inline double input_value(int rank, std::int64_t i) {
  return static_cast<double>((static_cast<std::int64_t>(rank) * 7919 + i * 31) % 1001 - 500) * 0.25;
}

template <class T>
Tensor rank_input(int rank, std::int64_t n) {
  std::vector<T> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = input_value(rank, i);
    v[static_cast<std::size_t>(i)] = std::is_integral_v<T> ? static_cast<T>(x * 4) : static_cast<T>(x);
  }
  return Tensor::from_vector(v, Shape{n});
}

/// The reduction of every rank's rank_input, element by element, with plain loops.
template <class T>
std::vector<T> naive_reduce(int size, std::int64_t n, Reduction op) {
  std::vector<T> out = rank_input<T>(0, n).template to_vector<T>();
  for (int r = 1; r < size; ++r) {
    const std::vector<T> in = rank_input<T>(r, n).template to_vector<T>();
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (op == Reduction::Max) out[i] = std::max(out[i], in[i]);
      else if (op == Reduction::Min) out[i] = std::min(out[i], in[i]);
      else out[i] += in[i];
    }
  }
  if (op == Reduction::Mean)
    for (T& x : out) x = static_cast<T>(x / static_cast<T>(size));
  return out;
}

inline const std::vector<Reduction>& all_reductions() {
  static const std::vector<Reduction> ops{Reduction::Sum, Reduction::Mean, Reduction::Max, Reduction::Min};
  return ops;
}

}  // namespace dm::dist::testing
