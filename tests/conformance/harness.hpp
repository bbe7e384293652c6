#pragma once
// The conformance table: every case runs the library on a device and compares what comes back
// with either the program's own naive loops (on the CPU) or the CPU's result (on a CUDA device).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace dm::conformance {

/// |got - want| <= atol + rtol * |want|; NaN matches NaN, infinities match only themselves.
struct Tolerance {
  double rtol;
  double atol;
};

// Every tolerance of the table, in one place.
namespace tol {
// Integer and bool results, comparisons, copies, casts, index_select, fill: bit for bit.
inline constexpr Tolerance exact{0.0, 0.0};
// PyTorch's assert_close defaults for f32: about 11 ulp relative, plus an absolute floor for
// results near zero (sums and dot products of values of order one cancel down to it).
inline constexpr Tolerance f32{1.3e-6, 1e-5};
// exp, log, tanh, sigmoid, gelu, softmax and friends in f32 run vectorised polynomial
// approximations good to a few ulp rather than libm's half ulp, and exp multiplies the
// input's own rounding by |x|: four times the f32 rtol.
inline constexpr Tolerance f32_transcendental{5e-6, 1e-5};
// PyTorch's f64 defaults are looser (1e-7); our reference is f64 too, so only rounding and
// summation order separate the two.
inline constexpr Tolerance f64{1e-12, 1e-12};
// bf16 keeps 8 significant bits (one rounding is up to 2^-9 = 2e-3 relative); a few roundings
// of inputs and output fit in 1e-2.
inline constexpr Tolerance bf16{1e-2, 1e-2};
// Optimizer steps and fused training kernels chain a dozen roundings per element in f32
// (moments, bias corrections, the square root), each up to half an ulp.
inline constexpr Tolerance f32_chained{1e-5, 1e-5};

/// The tolerance of a floating result of dtype t (exact for integer and bool dtypes).
Tolerance for_dtype(DType t, bool transcendental = false);
}  // namespace tol

/// One result, in row-major order, as doubles.
struct Output {
  std::string name;
  std::vector<std::int64_t> shape;
  DType dtype;
  std::vector<double> values;
};
using Outputs = std::vector<Output>;

struct Case {
  /// "add f32 broadcast (3,1)x(1,4)": op, dtype, layout.
  std::string name;
  Tolerance tolerance;
  /// Builds the inputs on the CPU, moves them to `device`, runs the library, brings back.
  std::function<Outputs(Device device)> run;
  /// Naive loops on the host. `got` is the CPU run's own outputs, for the few cases whose
  /// expectation is a property of them (a dropout mask, a random draw's range).
  std::function<Outputs(const Outputs& got)> reference;
  /// Non-empty when the library is known to disagree with the reference on the CPU: why.
  std::string expected_failure = {};
  /// The API only takes CPU tensors (dm::Parameters): no device run.
  bool cpu_only = false;
};
using Cases = std::vector<Case>;

/// The library's tensor `t`, brought to the CPU.
Output capture(const std::string& name, const Tensor& t);
/// An expected output; values are rounded to `dtype` as the library would store them.
Output expect(const std::string& name, std::vector<std::int64_t> shape, DType dtype, std::vector<double> values);

// The table, by op family.
void add_unary_cases(Cases& cases);
void add_binary_cases(Cases& cases);
void add_compare_cases(Cases& cases);
void add_reduce_cases(Cases& cases);
void add_linalg_cases(Cases& cases);
void add_copy_cases(Cases& cases);
void add_nn_cases(Cases& cases);
void add_optim_cases(Cases& cases);
void add_conv_cases(Cases& cases);
void add_attention_cases(Cases& cases);
void add_norm_cases(Cases& cases);

}  // namespace dm::conformance
