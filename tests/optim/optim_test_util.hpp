#pragma once
// Parameter sets for optimizer tests, laid out the ways a model or a user may hand them over:
// views of one flat buffer (as Model keeps them), separate tensors, or strided views.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "democratising/nn/module.hpp"
#include "democratising/core/tensor.hpp"

namespace optim_test {

using dm::DType;
using dm::Shape;
using dm::Tensor;

/// Names and shapes of a small two-layer network.
inline std::vector<std::pair<std::string, Shape>> small_net() {
  return {{"0.weight", Shape{4, 3}}, {"0.bias", Shape{4}}, {"2.weight", Shape{2, 4}}, {"2.bias", Shape{2}}};
}

inline std::int64_t total_numel(const std::vector<std::pair<std::string, Shape>>& shapes) {
  std::int64_t n = 0;
  for (const auto& s : shapes) n += s.second.numel();
  return n;
}

/// `n` normal values from a fixed seed (std::mt19937_64, independent of the library's RNG).
template <class T>
std::vector<T> random_values(std::int64_t n, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<T> out(static_cast<std::size_t>(n));
  for (auto& v : out) v = static_cast<T>(dist(gen));
  return out;
}

/// Views of one flat buffer holding `values`, one per shape, one after another.
struct FlatSet {
  Tensor flat;
  dm::nn::NamedTensors named;
  std::vector<Tensor> tensors() const {
    std::vector<Tensor> out;
    for (const auto& n : named) out.push_back(n.second);
    return out;
  }
};

template <class T>
FlatSet make_flat(const std::vector<std::pair<std::string, Shape>>& shapes, const std::vector<T>& values) {
  FlatSet set;
  set.flat = Tensor::from_vector(values, Shape{static_cast<std::int64_t>(values.size())});
  std::int64_t offset = 0;
  for (const auto& [name, shape] : shapes) {
    set.named.emplace_back(name, set.flat.narrow(0, offset, shape.numel()).view(shape));
    offset += shape.numel();
  }
  return set;
}

/// Separate tensors holding the same values as make_flat would.
template <class T>
dm::nn::NamedTensors make_separate(const std::vector<std::pair<std::string, Shape>>& shapes, const std::vector<T>& values) {
  dm::nn::NamedTensors out;
  std::size_t offset = 0;
  for (const auto& [name, shape] : shapes) {
    const auto n = static_cast<std::size_t>(shape.numel());
    std::vector<T> part(values.begin() + static_cast<std::ptrdiff_t>(offset), values.begin() + static_cast<std::ptrdiff_t>(offset + n));
    out.emplace_back(name, Tensor::from_vector(part, shape));
    offset += n;
  }
  return out;
}

/// Like make_separate, but each 2-d parameter is a transposed view (non-contiguous) of its
/// own storage, so updates must go through a contiguous copy and be written back.
template <class T>
dm::nn::NamedTensors make_strided(const std::vector<std::pair<std::string, Shape>>& shapes, const std::vector<T>& values) {
  dm::nn::NamedTensors out = make_separate(shapes, values);
  for (auto& [name, t] : out) {
    if (t.dim() != 2) continue;
    // Storage laid out as the transpose; t() of its contiguous copy reads the same values.
    t = t.t().contiguous().t();
  }
  return out;
}

/// All values of the tensors, in order, as T.
template <class T>
std::vector<T> values_of(const std::vector<Tensor>& tensors) {
  std::vector<T> out;
  for (const Tensor& t : tensors) {
    const auto v = t.to_vector<T>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

template <class T>
std::vector<T> values_of(const dm::nn::NamedTensors& named) {
  std::vector<Tensor> ts;
  for (const auto& n : named) ts.push_back(n.second);
  return values_of<T>(ts);
}

/// Bitwise equality of two value lists (NaN payloads included).
template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

/// PyTorch's default tolerances: f32 rtol 1.3e-6 / atol 1e-5; f64 much tighter.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<double>& want, const std::string& what,
                  double rtol = sizeof(T) == 4 ? 1.3e-6 : 1e-12, double atol = sizeof(T) == 4 ? 1e-5 : 1e-12) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]);
    ASSERT_LE(std::abs(g - want[i]), atol + rtol * std::abs(want[i])) << what << " element " << i << ": got " << g
                                                                      << " want " << want[i];
  }
}

}  // namespace optim_test
