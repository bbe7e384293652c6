// matmul against a plain reference: a triple loop over row-major copies of the operands,
// accumulating in double, with torch.matmul's rules for 1-d operands and batch broadcasting
// written out independently of the library's code.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;
using Dims = std::vector<std::int64_t>;

// Values in [-1, 1) from a fixed linear congruential sequence, the same on every run.
std::vector<float> test_values(std::int64_t n, std::uint64_t seed) {
  std::vector<float> out(static_cast<std::size_t>(n));
  std::uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (auto& v : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<float>(static_cast<double>(state >> 40) / static_cast<double>(1ull << 24) * 2.0 - 1.0);
  }
  return out;
}

Tensor operand(const Dims& shape, DType dtype, std::uint64_t seed) {
  const Shape s(shape);
  return Tensor::from_vector(test_values(s.numel(), seed), s).to(dtype);
}

struct Expected {
  Dims shape;
  std::vector<double> value;    // exact-ish products of the stored operands
  std::vector<double> abs_sum;  // sum of |a_ik * b_kj|: the scale of the rounding error
  std::int64_t k = 0;
};

// torch.matmul by definition: a 1-d lhs is a (1, K) row, a 1-d rhs a (K, 1) column, and the
// dims before the last two broadcast like NumPy's.
Expected reference_matmul(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  Dims sa = a.shape().vec(), sb = b.shape().vec();
  const bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
  if (a_vec) sa.insert(sa.begin(), 1);
  if (b_vec) sb.push_back(1);
  const std::int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  Dims ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const std::size_t nb = std::max(ba.size(), bb.size());
  ba.insert(ba.begin(), nb - ba.size(), 1);
  bb.insert(bb.begin(), nb - bb.size(), 1);
  Dims batch(nb);
  std::int64_t batch_count = 1;
  for (std::size_t d = 0; d < nb; ++d) {
    batch[d] = std::max(ba[d], bb[d]);
    batch_count *= batch[d];
  }
  Expected e;
  e.k = k;
  e.shape = batch;
  if (!a_vec) e.shape.push_back(m);
  if (!b_vec) e.shape.push_back(n);
  e.value.assign(static_cast<std::size_t>(batch_count * m * n), 0.0);
  e.abs_sum.assign(e.value.size(), 0.0);
  for (std::int64_t flat = 0; flat < batch_count; ++flat) {
    // Split the flat batch index into coordinates, then find each operand's matrix.
    std::int64_t rem = flat, a_index = 0, b_index = 0, a_scale = 1, b_scale = 1;
    for (std::size_t d = nb; d-- > 0;) {
      const std::int64_t coord = rem % batch[d];
      rem /= batch[d];
      a_index += (ba[d] == 1 ? 0 : coord) * a_scale;
      b_index += (bb[d] == 1 ? 0 : coord) * b_scale;
      a_scale *= ba[d];
      b_scale *= bb[d];
    }
    const double* am = va.data() + a_index * m * k;
    const double* bm = vb.data() + b_index * k * n;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double sum = 0.0, abs_sum = 0.0;
        for (std::int64_t p = 0; p < k; ++p) {
          sum += am[i * k + p] * bm[p * n + j];
          abs_sum += std::fabs(am[i * k + p] * bm[p * n + j]);
        }
        const auto at = static_cast<std::size_t>((flat * m + i) * n + j);
        e.value[at] = sum;
        e.abs_sum[at] = abs_sum;
      }
  }
  return e;
}

// Tolerance of a K-long dot product. Rounding errors of the K partial sums are independent
// and of either sign, so they grow like sqrt(K) * eps * sum|a*b| (the worst case, K * eps, is
// far too loose to catch wrong blocking or a dropped term); a fixed 2x margin covers the
// product roundings and short K. Torch's default f32 rtol 1.3e-6 does not scale with K and
// fails long f32 dot products that are as accurate as the hardware allows.
double dot_tolerance(DType dtype, std::int64_t k, double abs_sum) {
  const double eps = dtype == DType::f64 ? std::numeric_limits<double>::epsilon()
                                         : static_cast<double>(std::numeric_limits<float>::epsilon());
  const double atol = dtype == DType::f64 ? 1e-14 : 1e-6;
  return atol + 2.0 * std::sqrt(static_cast<double>(k) + 1.0) * eps * abs_sum;
}

void expect_matches(const Tensor& got, const Expected& want, DType dtype) {
  ASSERT_EQ(got.shape(), want.shape);
  ASSERT_EQ(got.dtype(), dtype);
  const std::vector<double> values = got.to_vector<double>();
  ASSERT_EQ(values.size(), want.value.size());
  int reported = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    double tol = dot_tolerance(dtype, want.k, want.abs_sum[i]);
    // bf16 results are f32 results rounded once more to 8 significant bits.
    if (dtype == DType::bf16) tol += std::fabs(want.value[i]) * std::ldexp(1.0, -8);
    if (!(std::fabs(values[i] - want.value[i]) <= tol) && reported++ < 5)
      ADD_FAILURE() << "element " << i << ": got " << values[i] << ", want " << want.value[i] << " (tol " << tol << ")";
  }
}

void check(const Tensor& a, const Tensor& b) {
  SCOPED_TRACE("lhs " + a.shape().str() + " rhs " + b.shape().str() + " " + std::string(dm::dtype_name(a.dtype())));
  const Expected want = reference_matmul(a, b);
  expect_matches(dm::matmul(a, b), want, a.dtype());
  expect_matches(a.matmul(b), want, a.dtype());
}

void check_shapes(const Dims& sa, const Dims& sb, DType dtype) {
  check(operand(sa, dtype, 1), operand(sb, dtype, 2));
}

class MatmulFloat : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulFloat, VectorDotVectorIsZeroDim) {
  const Tensor out = dm::matmul(operand({7}, GetParam(), 1), operand({7}, GetParam(), 2));
  EXPECT_EQ(out.dim(), 0);
  check_shapes({7}, {7}, GetParam());
  check_shapes({1000}, {1000}, GetParam());
}

TEST_P(MatmulFloat, MatrixTimesMatrix) {
  check_shapes({1, 1}, {1, 1}, GetParam());
  check_shapes({3, 4}, {4, 5}, GetParam());
  check_shapes({67, 45}, {45, 33}, GetParam());
  check_shapes({1, 50}, {50, 40}, GetParam());    // one output row
  check_shapes({40, 50}, {50, 1}, GetParam());    // one output column
  check_shapes({130, 70}, {70, 150}, GetParam());  // big enough to be tiled in parallel
  check_shapes({37, 300}, {300, 530}, GetParam());  // tiles across N with a ragged edge
}

TEST_P(MatmulFloat, VectorAndMatrix) {
  check_shapes({4}, {4, 5}, GetParam());
  check_shapes({3, 4}, {4}, GetParam());
  check_shapes({300}, {300, 2000}, GetParam());  // a single row, split across N
  check_shapes({2000}, {2000, 1}, GetParam());
  check_shapes({700, 900}, {900}, GetParam());  // a single column, split across M
}

TEST_P(MatmulFloat, BatchedAndBroadcast) {
  const DType t = GetParam();
  check_shapes({2, 3, 4}, {2, 4, 5}, t);
  check_shapes({2, 1, 3, 4}, {5, 4, 6}, t);  // -> (2, 5, 3, 6)
  check_shapes({3, 4}, {2, 4, 5}, t);        // lhs shared by every batch item
  check_shapes({2, 3, 4}, {4, 5}, t);        // rhs shared: one tall product
  check_shapes({7, 1, 3, 4}, {1, 2, 4, 5}, t);
  check_shapes({2, 3, 4}, {4}, t);
  check_shapes({4}, {2, 4, 5}, t);
  check_shapes({1, 3, 4}, {1, 4, 5}, t);
  check_shapes({3, 70, 50}, {50, 90}, t);      // folded, then tiled in parallel
  check_shapes({2, 130, 64}, {2, 64, 200}, t);  // batched and tiled
  check_shapes({5, 40, 40}, {5, 40, 40}, t);    // an odd batch of parallel tasks
  check_shapes({64, 8, 8}, {64, 8, 8}, t);
  EXPECT_EQ(dm::matmul(operand({2, 1, 3, 4}, t, 1), operand({5, 4, 6}, t, 2)).shape(), (Dims{2, 5, 3, 6}));
}

TEST_P(MatmulFloat, EmptyExtents) {
  const DType t = GetParam();
  // K = 0: every output element is an empty sum. Fill the allocator's recent blocks with
  // garbage first, so zeros cannot appear by accident.
  for (int i = 0; i < 4; ++i) Tensor::full({3, 4}, std::nan(""), t);
  const Tensor zero_k = dm::matmul(Tensor::empty({3, 0}, t), Tensor::empty({0, 4}, t));
  EXPECT_EQ(zero_k.shape(), (Dims{3, 4}));
  for (double v : zero_k.to_vector<double>()) EXPECT_EQ(v, 0.0);
  const Tensor dot = dm::matmul(Tensor::empty({0}, t), Tensor::empty({0}, t));
  EXPECT_EQ(dot.dim(), 0);
  EXPECT_EQ(dot.item<double>(), 0.0);
  check_shapes({2, 3, 0}, {2, 0, 5}, t);
  EXPECT_EQ(dm::matmul(Tensor::empty({0, 4}, t), operand({4, 5}, t, 1)).shape(), (Dims{0, 5}));
  EXPECT_EQ(dm::matmul(operand({3, 4}, t, 1), Tensor::empty({4, 0}, t)).shape(), (Dims{3, 0}));
  EXPECT_EQ(dm::matmul(Tensor::empty({0, 3, 4}, t), operand({4, 5}, t, 1)).shape(), (Dims{0, 3, 5}));
  EXPECT_EQ(dm::matmul(Tensor::empty({2, 0, 4}, t), Tensor::empty({1, 4, 0}, t)).shape(), (Dims{2, 0, 0}));
}

// ---- layouts: transposed, sliced and expanded operands ------------------------------------

// The same values with the last two dims swapped, as a view (no copy).
Tensor swap_last_two(const Tensor& t) {
  Shape shape = t.shape();
  dm::Strides strides = t.strides();
  const int n = shape.size();
  std::swap(shape[n - 1], shape[n - 2]);
  std::swap(strides[n - 1], strides[n - 2]);
  return dm::make_view(t, shape, strides, t.storage_offset());
}

TEST_P(MatmulFloat, TransposedOperandsAreReadInPlace) {
  const DType t = GetParam();
  const Tensor at = operand({45, 67}, t, 1), bt = operand({33, 45}, t, 2);
  const Tensor a = swap_last_two(at), b = swap_last_two(bt);  // (67, 45) and (45, 33), column-major
  check(a, operand({45, 33}, t, 3));
  check(operand({67, 45}, t, 4), b);
  check(a, b);
  check(at.t(), bt.t());  // the public transpose gives the same views
  // Big enough for parallel tiles, so tiles start inside transposed operands.
  check(swap_last_two(operand({300, 130}, t, 5)), swap_last_two(operand({170, 300}, t, 6)));
  // Batched column-major matrices: (3, 40, 50) @ (3, 50, 20).
  check(swap_last_two(operand({3, 50, 40}, t, 7)), swap_last_two(operand({3, 20, 50}, t, 8)));
  check(swap_last_two(operand({3, 50, 40}, t, 7)), operand({50, 20}, t, 9));
  // A one-row or one-column product of a transposed operand (the gemv paths).
  check(operand({1, 50}, t, 10), swap_last_two(operand({2000, 50}, t, 11)));
  check(swap_last_two(operand({900, 700}, t, 12)), operand({900, 1}, t, 13));
  check(swap_last_two(operand({50, 1}, t, 14)), swap_last_two(operand({40, 50}, t, 15)));
}

TEST_P(MatmulFloat, SlicedOperands) {
  const DType t = GetParam();
  const Tensor big = operand({20, 30}, t, 1);
  // Rows 2.. of every second row, columns 3..17: row stride 60, unit column stride, an offset.
  const Tensor rows = dm::make_view(big, Shape{8, 14}, dm::Strides{60, 1}, 2 * 30 + 3);
  check(rows, operand({14, 9}, t, 2));
  check(operand({5, 8}, t, 3), rows);
  // Every second column: neither stride is 1, so it must be copied first.
  const Tensor cols = dm::make_view(big, Shape{20, 15}, dm::Strides{30, 2}, 0);
  check(cols, operand({15, 6}, t, 4));
  check(operand({4, 20}, t, 5), cols);
  // Strided vectors: every third element.
  const Tensor vec = dm::make_view(big, Shape{30}, dm::Strides{3}, 5);
  check(vec, operand({30, 7}, t, 6));
  check(operand({7, 30}, t, 7), vec);
  check(vec, vec);
  // A column of a matrix as the vector operand.
  const Tensor column = dm::make_view(big, Shape{20}, dm::Strides{30}, 4);
  check(column, operand({20, 3}, t, 8));
  check(operand({6, 20}, t, 9), column);
  // Batched slices: rows 1..4 of each (5, 30) matrix, so the rows of consecutive items do
  // not follow each other and the tall-product shortcut must not apply.
  const Tensor batched = operand({4, 5, 30}, t, 10);
  const Tensor inner = dm::make_view(batched, Shape{4, 3, 30}, dm::Strides{150, 30, 1}, 30);
  check(inner, operand({30, 8}, t, 11));
  check(inner, operand({4, 30, 8}, t, 12));
  // Batch items in reverse storage order and a permuted batch: arbitrary batch strides.
  const Tensor permuted = dm::make_view(batched, Shape{5, 4, 30}, dm::Strides{30, 150, 1}, 0);
  check(permuted, operand({30, 2}, t, 13));
  check(permuted, operand({5, 1, 30, 2}, t, 14));
}

TEST_P(MatmulFloat, ExpandedOperands) {
  const DType t = GetParam();
  // A row repeated: row stride 0 fits no BLAS layout and is copied.
  const Tensor row = operand({1, 12}, t, 1);
  const Tensor repeated = dm::make_view(row, Shape{9, 12}, dm::Strides{0, 1}, 0);
  check(repeated, operand({12, 5}, t, 2));
  check(operand({5, 9}, t, 3), dm::make_view(operand({9, 1}, t, 4), Shape{9, 12}, dm::Strides{1, 0}, 0));
  // A batch dim expanded with stride 0: every item reads the same matrix.
  const Tensor one = operand({1, 12, 5}, t, 5);
  const Tensor shared = dm::make_view(one, Shape{4, 12, 5}, dm::Strides{0, 5, 1}, 0);
  check(operand({4, 3, 12}, t, 6), shared);
  check(dm::make_view(operand({1, 3, 12}, t, 7), Shape{4, 3, 12}, dm::Strides{0, 12, 1}, 0), shared);
  // A vector expanded from one element.
  check(dm::make_view(operand({1}, t, 8), Shape{12}, dm::Strides{0}, 0), operand({12, 4}, t, 9));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, MatmulFloat, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dm::dtype_name(info.param)); });

TEST(Matmul, Bf16ComputesInF32AndReturnsBf16) {
  check_shapes({5, 6}, {6, 7}, DType::bf16);
  check_shapes({2, 9, 16}, {16}, DType::bf16);
  check_shapes({64, 96}, {96, 80}, DType::bf16);
}

TEST(Matmul, Errors) {
  const Tensor a = operand({2, 3}, DType::f32, 1);
  try {
    dm::matmul(a, operand({4, 5}, DType::f32, 2));
    FAIL() << "expected a ShapeError";
  } catch (const dm::ShapeError& e) {
    EXPECT_STREQ(e.what(), "[matmul] lhs (2, 3) vs rhs (4, 5): inner dimensions 3 and 4 differ");
  }
  EXPECT_THROW(dm::matmul(operand({3}, DType::f32, 1), operand({4}, DType::f32, 2)), dm::ShapeError);
  EXPECT_THROW(dm::matmul(operand({2, 2, 3}, DType::f32, 1), operand({3, 3, 4}, DType::f32, 2)), dm::ShapeError);
  EXPECT_THROW(dm::matmul(Tensor::scalar(2.0), a), dm::ShapeError);
  EXPECT_THROW(dm::matmul(a, Tensor::scalar(2.0)), dm::ShapeError);
  try {
    dm::matmul(a, operand({3, 4}, DType::f64, 2));
    FAIL() << "expected a DTypeError";
  } catch (const dm::DTypeError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("[matmul]", 0), 0u) << msg;
    EXPECT_NE(msg.find("f32"), std::string::npos) << msg;
    EXPECT_NE(msg.find("f64"), std::string::npos) << msg;
  }
  for (DType integral : {DType::i32, DType::i64, DType::u8, DType::boolean})
    EXPECT_THROW(dm::matmul(Tensor::ones({2, 2}, integral), Tensor::ones({2, 2}, integral)), dm::DTypeError);
  EXPECT_THROW(dm::matmul(Tensor(), a), dm::ValueError);
  EXPECT_THROW(a.matmul(Tensor()), dm::ValueError);
}

TEST(Matmul, BatchBroadcastErrorNamesBothShapes) {
  try {
    dm::matmul(operand({2, 3, 4}, DType::f32, 1), operand({5, 4, 6}, DType::f32, 2));
    FAIL() << "expected a ShapeError";
  } catch (const dm::ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[matmul] lhs (2, 3, 4) vs rhs (5, 4, 6)"), std::string::npos) << msg;
  }
}

}  // namespace
