#pragma once
// What the "same bits for any pool size" tests share: deterministic inputs, a bitwise
// comparison, and a run at one thread against runs at several.

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "democratising/core/tensor.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::testing {

/// Values in [-0.5, 0.5) from a fixed linear congruential sequence, so inputs do not depend on
/// the library's own generator.
inline Tensor values(const Shape& shape, DType dtype, std::uint64_t seed) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  std::uint64_t state = seed;
  for (auto& x : v) {
    state = state * 2862933555777941757ull + 3037000493ull;
    x = static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
  }
  return Tensor::from_vector(v, shape).to(dtype);
}

/// Same shape, dtype and bytes.
inline bool same_bits(const Tensor& x, const Tensor& y) {
  if (x.shape() != y.shape() || x.dtype() != y.dtype()) return false;
  const Tensor cx = x.contiguous(), cy = y.contiguous();
  return std::memcmp(cx.data_ptr(), cy.data_ptr(), static_cast<std::size_t>(x.numel()) * itemsize(x.dtype())) == 0;
}

/// Restores the pool size a test found.
class PoolSizeGuard {
 public:
  PoolSizeGuard() : saved_(num_threads()) {}
  ~PoolSizeGuard() { set_num_threads(saved_); }
  PoolSizeGuard(const PoolSizeGuard&) = delete;
  PoolSizeGuard& operator=(const PoolSizeGuard&) = delete;

 private:
  int saved_;
};

/// `run(dtype)` at one thread, then at each of `threads`: every tensor it returns must have the
/// same bits, for f32 and f64.
inline void expect_thread_invariant(const std::string& name, const std::function<std::vector<Tensor>(DType)>& run,
                                    std::vector<int> threads = {2, 3}) {
  PoolSizeGuard guard;
  for (DType dtype : {DType::f32, DType::f64}) {
    set_num_threads(1);
    const std::vector<Tensor> want = run(dtype);
    for (int n : threads) {
      set_num_threads(n);
      const std::vector<Tensor> got = run(dtype);
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(same_bits(got[i], want[i])) << name << " " << dtype_name(dtype) << ": output " << i
                                                << " differs between 1 and " << n << " threads";
    }
  }
}

/// `f`'s output and the gradient of each input, for inputs of `shapes` drawn by values().
inline std::vector<Tensor> output_and_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                                const std::vector<Shape>& shapes, DType dtype) {
  std::vector<Tensor> inputs;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    inputs.push_back(values(shapes[i], dtype, 7 + i));
    inputs.back().set_requires_grad();
  }
  const Tensor y = f(inputs);
  y.backward(values(y.shape(), dtype, 99));
  std::vector<Tensor> out{y};
  for (const Tensor& t : inputs) out.push_back(t.grad());
  return out;
}

/// expect_thread_invariant of output_and_gradients(f, shapes).
inline void expect_thread_invariant(const std::string& name, const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                    const std::vector<Shape>& shapes) {
  expect_thread_invariant(name, [&](DType dtype) { return output_and_gradients(f, shapes, dtype); });
}

}  // namespace dm::testing
