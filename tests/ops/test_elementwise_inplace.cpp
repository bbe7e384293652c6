// In-place ops: they write through this tensor's view (strided ones too), broadcast the other
// operand to this shape only, keep this dtype, refuse expanded views, and read overlapping
// operands correctly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

std::vector<double> seq(std::size_t n, double start, double step) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<double>(i);
  return v;
}

void expect_all_near(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-5 + 1.3e-6 * std::abs(want[i])) << what << " at " << i;
}

TEST(ElementwiseInPlace, BinaryWritesIntoTheSameStorage) {
  Tensor a = Tensor::from_vector(seq(6, 1.0, 1.0), {2, 3}).to(DType::f32);
  const Tensor b = Tensor::from_vector<float>({10, 20, 30}, {3});
  const void* before = a.data_ptr();
  Tensor& same = a.add_(b);
  EXPECT_EQ(&same, &a);
  EXPECT_EQ(a.data_ptr(), before);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  a.sub_(b);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  a.mul_(Tensor::from_vector<float>({2, 3}, {2, 1}));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{2, 4, 6, 12, 15, 18}));
  a.div_(Tensor::scalar(2.0));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 2, 3, 6, 7.5f, 9}));
  a.add_(1.0).mul_(2.0).sub_(0.5).div_(4.0);
  expect_all_near(a.to_vector<double>(), {0.875, 1.375, 1.875, 3.375, 4.125, 4.875}, "scalar chain");
}

TEST(ElementwiseInPlace, UnaryMatchesOutOfPlace) {
  std::mt19937 rng(21);
  std::uniform_real_distribution<double> dist(-3.0, 3.0);
  std::vector<double> v(333);
  for (auto& x : v) x = dist(rng);
  const Tensor src = Tensor::from_vector(v).to(DType::f32);
  const Tensor positive = src.abs().add(0.1);
  struct Case {
    const char* name;
    std::function<void(Tensor&)> in_place;
    std::function<Tensor(const Tensor&)> out_of_place;
    bool needs_positive;
  };
  const std::vector<Case> cases = {
      {"neg_", [](Tensor& t) { t.neg_(); }, [](const Tensor& t) { return t.neg(); }, false},
      {"abs_", [](Tensor& t) { t.abs_(); }, [](const Tensor& t) { return t.abs(); }, false},
      {"exp_", [](Tensor& t) { t.exp_(); }, [](const Tensor& t) { return t.exp(); }, false},
      {"log_", [](Tensor& t) { t.log_(); }, [](const Tensor& t) { return t.log(); }, true},
      {"sqrt_", [](Tensor& t) { t.sqrt_(); }, [](const Tensor& t) { return t.sqrt(); }, true},
      {"pow_", [](Tensor& t) { t.pow_(1.5); }, [](const Tensor& t) { return t.pow(1.5); }, true},
      {"relu_", [](Tensor& t) { t.relu_(); }, [](const Tensor& t) { return t.relu(); }, false},
      {"sigmoid_", [](Tensor& t) { t.sigmoid_(); }, [](const Tensor& t) { return t.sigmoid(); }, false},
      {"tanh_", [](Tensor& t) { t.tanh_(); }, [](const Tensor& t) { return t.tanh(); }, false},
      {"clamp_", [](Tensor& t) { t.clamp_(-1.0, 0.5); }, [](const Tensor& t) { return t.clamp(-1.0, 0.5); }, false},
  };
  for (const auto& c : cases) {
    const Tensor& input = c.needs_positive ? positive : src;
    Tensor t = input.clone();
    c.in_place(t);
    EXPECT_EQ(t.to_vector<float>(), c.out_of_place(input).to_vector<float>()) << c.name;
  }
}

TEST(ElementwiseInPlace, StridedSelfOnlyTouchesItsElements) {
  // Every other column of a (3, 6) tensor: the columns in between must stay as they were.
  const Tensor base = Tensor::from_vector(seq(18, 0.0, 1.0), {3, 6}).to(DType::f64);
  Tensor view = make_view(base, {3, 3}, {6, 2}, 1);
  view.mul_(Tensor::from_vector<double>({-1.0, 10.0, 100.0}, {3}));
  view.relu_();
  const auto b = base.to_vector<double>();
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t c = 0; c < 6; ++c) {
      const double original = static_cast<double>(r * 6 + c);
      const double scale = c == 1 ? -1.0 : c == 3 ? 10.0 : 100.0;
      const double want = c % 2 == 1 ? std::max(0.0, original * scale) : original;
      EXPECT_EQ(b[r * 6 + c], want) << r << "," << c;
    }
}

TEST(ElementwiseInPlace, OtherMayNotGrowSelf) {
  Tensor a = Tensor::ones({3});
  try {
    a.add_(Tensor::ones({2, 3}));
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[add_]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(2, 3)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(3,)"), std::string::npos) << msg;
  }
  EXPECT_THROW(a.mul_(Tensor::ones({4})), ShapeError);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 1, 1}));  // untouched by the failed calls
}

TEST(ElementwiseInPlace, ExpandedViewIsAValueError) {
  const Tensor row = Tensor::ones({1, 4});
  Tensor expanded = make_view(row, {3, 4}, {0, 1}, 0);
  EXPECT_THROW(expanded.add_(1.0), ValueError);
  EXPECT_THROW(expanded.mul_(Tensor::ones({3, 4})), ValueError);
  EXPECT_THROW(expanded.relu_(), ValueError);
  EXPECT_THROW(expanded.clamp_(0.0, 1.0), ValueError);
  // A size-1 dim with stride 0 holds one element per position and may be written.
  Tensor single = make_view(row, {1, 4}, {0, 1}, 0);
  single.add_(1.0);
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{2, 2, 2, 2}));
}

TEST(ElementwiseInPlace, KeepsSelfDTypeAndRefusesLossyResults) {
  Tensor i = Tensor::from_vector<std::int32_t>({1, 2, 3}, {3});
  i.add_(Tensor::from_vector<std::int64_t>({10, 20, 30}, {3}));  // i64 result stored as i32
  EXPECT_EQ(i.dtype(), DType::i32);
  EXPECT_EQ(i.to_vector<std::int32_t>(), (std::vector<std::int32_t>{11, 22, 33}));
  i.mul_(2.0);
  EXPECT_EQ(i.to_vector<std::int32_t>(), (std::vector<std::int32_t>{22, 44, 66}));
  EXPECT_THROW(i.add_(0.5), DTypeError);                    // f32 result into i32
  EXPECT_THROW(i.div_(2.0), DTypeError);                    // true division
  EXPECT_THROW(i.add_(Tensor::ones({3}, DType::f32)), DTypeError);
  EXPECT_THROW(i.exp_(), DTypeError);
  EXPECT_THROW(i.pow_(-2.0), ValueError);
  Tensor b = Tensor::ones({2}, DType::boolean);
  EXPECT_THROW(b.add_(1.0), DTypeError);  // i64 result into bool
  EXPECT_THROW(b.neg_(), DTypeError);

  Tensor f = Tensor::ones({2}, DType::f32);
  f.add_(Tensor::from_vector<double>({0.25, 1e-9}, {2}));  // computed in f64, stored as f32
  EXPECT_EQ(f.dtype(), DType::f32);
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1.25f, static_cast<float>(1.0 + 1e-9)}));
  Tensor h = Tensor::ones({3}, DType::bf16);
  h.mul_(3.0).add_(Tensor::from_vector<std::int64_t>({1, 2, 3}, {3}));
  EXPECT_EQ(h.dtype(), DType::bf16);
  EXPECT_EQ(h.to_vector<float>(), (std::vector<float>{4, 5, 6}));
}

TEST(ElementwiseInPlace, OverlappingOperandIsReadBeforeItIsOverwritten) {
  // x[1:] += x[:-1] must use the old values of x, as if x[:-1] were copied first.
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5}, {5});
  Tensor tail = make_view(x, {4}, {1}, 1);
  const Tensor head = make_view(x, {4}, {1}, 0);
  tail.add_(head);
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{1, 3, 5, 7, 9}));
  // a.add_(a.t()) on a square matrix: each element reads the transposed old value.
  Tensor m = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  m.add_(make_view(m, {2, 2}, {1, 2}, 0));
  EXPECT_EQ(m.to_vector<double>(), (std::vector<double>{2, 5, 5, 8}));
  // The exact same view is fine element for element: x *= x.
  Tensor y = Tensor::from_vector<double>({1, 2, 3}, {3});
  y.mul_(y);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, 4, 9}));
}

}  // namespace
}  // namespace dm
