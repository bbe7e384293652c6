// The maths the CUDA kernels share with the CPU, run on the host: the per-element functors
// (host instantiation against the CPU kernels' results), the bf16/bool conversions against
// dm::bf16 and the CPU's convert<>, and the Philox block code against the CPU random fill.
// On a GPU the same definitions compile for the device, so these pin down what it computes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/cpu/elementwise.hpp"
#include "backend/cpu/elementwise_functors.hpp"
#include "backend/cpu/training_kernels.hpp"
#include "backend/cuda/convert.hpp"
#include "backend/cuda/random_blocks.hpp"
#include "base/dispatch.hpp"

namespace {

using namespace dm;
namespace fn = dm::cpu::fn;

template <class T>
std::vector<T> samples() {
  if constexpr (std::is_floating_point_v<T>) {
    const T inf = std::numeric_limits<T>::infinity();
    return {T(0), T(-0.0), T(1), T(-1), T(0.5), T(-2.75), T(3.25), T(1e-3), T(-45), T(20), T(100), inf, -inf,
            std::numeric_limits<T>::quiet_NaN()};
  } else if constexpr (std::is_signed_v<T>) {
    return {T(0), T(1), T(-1), T(7), T(-8), T(3), std::numeric_limits<T>::max(), std::numeric_limits<T>::min()};
  } else {
    return {T(0), T(1), T(2), T(7), T(200), T(255)};
  }
}

template <class T>
bool same(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
  else return a == b;
}

// The CPU unary kernel over contiguous `x`.
template <class T>
std::vector<T> cpu_unary(UnaryOp op, std::vector<T> x, UnaryParams params = {}) {
  std::vector<T> y(x.size());
  const auto n = static_cast<std::int64_t>(x.size());
  const backend::Output out{reinterpret_cast<std::byte*>(y.data()), dtype_of_v<T>, Shape{n}, Strides{1}, false};
  const backend::Operand in{reinterpret_cast<const std::byte*>(x.data()), dtype_of_v<T>, Strides{1}};
  cpu::unary(op, out, in, params, dtype_of_v<T>);
  return y;
}

template <class T, class F>
void expect_unary_matches(UnaryOp op, F f, UnaryParams params = {}) {
  const std::vector<T> x = samples<T>();
  const std::vector<T> want = cpu_unary(op, x, params);
  for (std::size_t i = 0; i < x.size(); ++i)
    EXPECT_TRUE(same(f(x[i]), want[i])) << op_name(op) << "(" << +x[i] << "): " << +f(x[i]) << " vs " << +want[i];
}

template <class T>
void check_any_type_unaries() {
  expect_unary_matches<T>(UnaryOp::neg, fn::Neg<T>{});
  expect_unary_matches<T>(UnaryOp::abs, fn::Abs<T>{});
  expect_unary_matches<T>(UnaryOp::relu, fn::Relu<T>{});
  expect_unary_matches<T>(UnaryOp::clamp, fn::Clamp<T>{fn::saturate<T>(-1.5), fn::saturate<T>(7.0)}, {-1.5, 7.0});
}

TEST(CudaSharedMaths, UnaryFunctorsOnTheHostEqualTheCpuKernelsBitwise) {
  check_any_type_unaries<float>();
  check_any_type_unaries<double>();
  check_any_type_unaries<std::int32_t>();
  check_any_type_unaries<std::int64_t>();
  check_any_type_unaries<std::uint8_t>();
  // log and sqrt have no vector form: the CPU kernel runs the very functor.
  expect_unary_matches<float>(UnaryOp::log, fn::Log<float>{});
  expect_unary_matches<float>(UnaryOp::sqrt, fn::Sqrt<float>{});
  // f64 transcendental functors are scalar on the CPU as well.
  expect_unary_matches<double>(UnaryOp::exp, fn::Exp<double>{});
  expect_unary_matches<double>(UnaryOp::log, fn::Log<double>{});
  expect_unary_matches<double>(UnaryOp::sqrt, fn::Sqrt<double>{});
  expect_unary_matches<double>(UnaryOp::sigmoid, fn::Sigmoid<double>{});
  expect_unary_matches<double>(UnaryOp::tanh, fn::Tanh<double>{});
  expect_unary_matches<double>(UnaryOp::gelu, fn::Gelu<double>{});
}

TEST(CudaSharedMaths, F32TranscendentalFunctorsAgreeWithTheCpuVectorMaths) {
  // The CPU computes f32 exp, sigmoid, tanh and gelu with its own vector polynomials (a few
  // ulp from libm); the scalar functors the device runs are libm-accurate. They agree to
  // PyTorch's f32 tolerance.
  const std::vector<float> x = samples<float>();
  const auto check = [&](UnaryOp op, auto f) {
    const std::vector<float> want = cpu_unary(op, x);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float got = f(x[i]);
      if (std::isnan(want[i]) || std::isinf(want[i])) {
        EXPECT_TRUE(same(got, want[i])) << op_name(op) << "(" << x[i] << ")";
      } else {
        EXPECT_NEAR(got, want[i], 1e-5 + 1.3e-6 * std::fabs(want[i])) << op_name(op) << "(" << x[i] << ")";
      }
    }
  };
  check(UnaryOp::exp, fn::Exp<float>{});
  check(UnaryOp::sigmoid, fn::Sigmoid<float>{});
  check(UnaryOp::tanh, fn::Tanh<float>{});
  check(UnaryOp::gelu, fn::Gelu<float>{});
}

template <class T, class F>
void expect_binary_matches(BinaryOp op, F f) {
  const std::vector<T> s = samples<T>();
  std::vector<T> a, b;
  for (T x : s)
    for (T y : s) a.push_back(x), b.push_back(y);
  std::vector<T> want(a.size());
  const auto n = static_cast<std::int64_t>(a.size());
  const backend::Output out{reinterpret_cast<std::byte*>(want.data()), dtype_of_v<T>, Shape{n}, Strides{1}, false};
  const backend::Operand in_a{reinterpret_cast<const std::byte*>(a.data()), dtype_of_v<T>, Strides{1}};
  const backend::Operand in_b{reinterpret_cast<const std::byte*>(b.data()), dtype_of_v<T>, Strides{1}};
  cpu::binary(op, out, in_a, in_b, dtype_of_v<T>);
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(same(f(a[i], b[i]), want[i])) << op_name(op) << "(" << +a[i] << ", " << +b[i] << ")";
}

template <class T>
void check_binaries() {
  expect_binary_matches<T>(BinaryOp::add, fn::Add<T>{});
  expect_binary_matches<T>(BinaryOp::sub, fn::Sub<T>{});
  expect_binary_matches<T>(BinaryOp::mul, fn::Mul<T>{});
  expect_binary_matches<T>(BinaryOp::pow, fn::Pow<T>{});
  expect_binary_matches<T>(BinaryOp::maximum, fn::Maximum<T>{});
  expect_binary_matches<T>(BinaryOp::minimum, fn::Minimum<T>{});
  if constexpr (std::is_floating_point_v<T>) expect_binary_matches<T>(BinaryOp::div, fn::Div<T>{});
}

TEST(CudaSharedMaths, BinaryFunctorsOnTheHostEqualTheCpuKernelsBitwise) {
  check_binaries<float>();
  check_binaries<double>();
  check_binaries<std::int32_t>();
  check_binaries<std::int64_t>();
  check_binaries<std::uint8_t>();
}

TEST(CudaSharedMaths, Bf16AndBoolConversionsEqualTheCpus) {
  // Every bf16 bit pattern round-trips as dm::bf16 does, and rounding from f32 agrees on a
  // sweep of f32 bit patterns (ties, NaNs, infinities, subnormals included).
  for (std::uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    bf16 h;
    h.bits = static_cast<std::uint16_t>(bits);
    const float want = h;
    const float got = cuda_backend::bf16_to_float(h.bits);
    EXPECT_EQ(std::memcmp(&got, &want, 4), 0) << bits;
  }
  for (std::uint64_t bits = 0; bits <= 0xffffffffu; bits += 0x10001u) {
    const auto u = static_cast<std::uint32_t>(bits);
    float f;
    std::memcpy(&f, &u, 4);
    EXPECT_EQ(cuda_backend::float_to_bf16(f), bf16(f).bits) << std::hex << u;
  }
  for (double v : {0.0, -0.0, 1e-300, 0.5, -3.0, std::nan("")}) EXPECT_EQ(cuda_backend::to<bool>(v), convert<bool>(v)) << v;
  EXPECT_EQ(cuda_backend::to<bool>(std::int64_t{1} << 40), convert<bool>(std::int64_t{1} << 40));
}

// What the CUDA kernel writes: block b of the draw by the shared block code.
template <class T, class Gen>
std::vector<T> block_fill(std::int64_t n, std::uint64_t seed, std::uint64_t start, const Gen& gen) {
  std::vector<T> out(static_cast<std::size_t>(n));
  const std::int64_t blocks = (n + random_values::kPerBlock<T> - 1) / random_values::kPerBlock<T>;
  for (std::int64_t b = 0; b < blocks; ++b) cuda_backend::random_blocks::fill_block(out.data(), n, b, seed, start, gen);
  return out;
}

template <class T>
void expect_bitwise(const std::vector<T>& got, const std::vector<T>& want) {
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(T)), 0);
}

TEST(CudaSharedMaths, PhiloxBlocksOnTheHostEqualTheCpuRandomFill) {
  namespace rb = cuda_backend::random_blocks;
  const std::uint64_t seed = 0x5eed1234abcdULL, start = 77;
  for (std::int64_t n : {std::int64_t{1}, std::int64_t{7}, std::int64_t{1001}}) {
    SCOPED_TRACE(n);
    std::vector<float> f(static_cast<std::size_t>(n));
    std::vector<double> d(static_cast<std::size_t>(n));
    std::vector<std::int64_t> i(static_cast<std::size_t>(n));

    cpu::random_uniform(reinterpret_cast<std::byte*>(f.data()), DType::f32, n, seed, start, -2.0, 3.0);
    expect_bitwise(block_fill<float>(n, seed, start, rb::Uniform<float>{-2.0f, 5.0f}), f);
    cpu::random_uniform(reinterpret_cast<std::byte*>(d.data()), DType::f64, n, seed, start, -2.0, 3.0);
    expect_bitwise(block_fill<double>(n, seed, start, rb::Uniform<double>{-2.0, 5.0}), d);

    cpu::random_normal(reinterpret_cast<std::byte*>(f.data()), DType::f32, n, seed, start, 0.0, 1.0);
    expect_bitwise(block_fill<float>(n, seed, start, rb::Normal<float>{0.0f, 1.0f, true}), f);
    cpu::random_normal(reinterpret_cast<std::byte*>(d.data()), DType::f64, n, seed, start, 1.5, 0.25);
    expect_bitwise(block_fill<double>(n, seed, start, rb::Normal<double>{1.5, 0.25, false}), d);

    cpu::random_int(i.data(), n, seed, start, -5, 1000);
    expect_bitwise(block_fill<std::int64_t>(n, seed, start, rb::Integers{-5, 1005}), i);
  }
}

}  // namespace
