// Creators: zeros, ones, full, scalar, empty, arange, linspace, eye, from_vector, from_buffer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/reference_indexing.hpp"
#include "democratising/democratising.hpp"

using dm::DType;
using dm::Shape;
using dm::Tensor;
using dm_test::error_of;
using testing::HasSubstr;

namespace {
constexpr DType kAll[] = {DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64, DType::u8, DType::boolean};
}  // namespace

TEST(Creation, ZerosOnesFullForEveryDtypeAndShape) {
  for (DType dt : kAll)
    for (const Shape& s : std::vector<Shape>{{}, {0}, {3}, {2, 0, 4}, {2, 3, 4}, {1, 1, 1, 1, 1, 1, 1, 2}}) {
      SCOPED_TRACE(std::string(dm::dtype_name(dt)) + " " + s.str());
      const Tensor z = Tensor::zeros(s, dt), o = Tensor::ones(s, dt), f = Tensor::full(s, 3.0, dt);
      for (const Tensor& t : {z, o, f}) {
        EXPECT_EQ(t.shape(), s);
        EXPECT_EQ(t.dtype(), dt);
        EXPECT_EQ(t.device(), dm::Device::cpu());
        EXPECT_EQ(t.numel(), s.numel());
        EXPECT_TRUE(t.is_contiguous());
        EXPECT_EQ(t.storage_offset(), 0);
      }
      const double three = dt == DType::boolean ? 1.0 : 3.0;
      for (const dm_test::Index& i : dm_test::all_indices(s)) {
        ASSERT_EQ(dm_test::at(z, i), 0.0);
        ASSERT_EQ(dm_test::at(o, i), 1.0);
        ASSERT_EQ(dm_test::at(f, i), three);
      }
    }
}

TEST(Creation, FullConvertsTheValueToTheDtype) {
  EXPECT_EQ(Tensor::full({2}, 2.75, DType::i32).to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, 2}));
  EXPECT_EQ(Tensor::full({1}, 1.0 / 3.0, DType::f32).item<float>(), 1.0f / 3.0f);
  EXPECT_EQ(Tensor::full({1}, 1.0 / 3.0, DType::bf16).item<float>(), static_cast<float>(dm::bf16(1.0f / 3.0f)));
  EXPECT_EQ(Tensor::full({1}, -0.5, DType::boolean).item<bool>(), true);
}

TEST(Creation, ScalarAndEmpty) {
  const Tensor s = Tensor::scalar(4.5, DType::f64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item<double>(), 4.5);
  EXPECT_EQ(Tensor::scalar(7).dtype(), DType::f32);
  const Tensor e = Tensor::empty({3, 2}, DType::i64);
  EXPECT_EQ(e.shape(), Shape({3, 2}));
  EXPECT_EQ(e.dtype(), DType::i64);
  EXPECT_THAT(error_of<dm::ShapeError>([] { Tensor::zeros({2, -1}); }), HasSubstr("negative"));
}

TEST(Creation, ArangeLikeTorch) {
  EXPECT_EQ(Tensor::arange(5.0).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Tensor::arange(2.0, 11.0, 3.0, DType::i64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 5, 8}));
  EXPECT_EQ(Tensor::arange(10.0, 0.0, -3.0).to_vector<float>(), (std::vector<float>{10, 7, 4, 1}));
  EXPECT_EQ(Tensor::arange(-1.0, -5.0, -1.5, DType::f64).to_vector<double>(), (std::vector<double>{-1.0, -2.5, -4.0}));
  EXPECT_EQ(Tensor::arange(3.0, 3.0).numel(), 0);
  EXPECT_EQ(Tensor::arange(5.0, 1.0).numel(), 0);  // wrong direction: empty, as in torch
  EXPECT_EQ(Tensor::arange(1.0, 5.0, -1.0).numel(), 0);
  // torch.arange(0, 1, 0.1) has 10 elements (0.1 * 10 rounds to exactly 1.0).
  const Tensor tenths = Tensor::arange(0.0, 1.0, 0.1);
  ASSERT_EQ(tenths.numel(), 10);
  const std::vector<float> v = tenths.to_vector<float>();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(v[static_cast<std::size_t>(i)], static_cast<float>(i * 0.1)) << i;
  EXPECT_EQ(Tensor::arange(0.0, 1.0, 0.1, DType::f64).numel(), 10);
  EXPECT_EQ(Tensor::arange(0.0, 0.3, 0.1, DType::f64).numel(), 3);  // 0.3/0.1 is 2.9999...96: ceil gives 3
  EXPECT_THAT(error_of<dm::ValueError>([] { Tensor::arange(0.0, 1.0, 0.0); }), HasSubstr("[arange]"));
  EXPECT_THROW(Tensor::arange(0.0, INFINITY), dm::ValueError);
}

TEST(Creation, LinspaceHitsBothEndpointsExactly) {
  EXPECT_EQ(Tensor::linspace(0.0, 1.0, 5, DType::f64).to_vector<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  for (std::int64_t steps : {2, 3, 7, 17, 100, 1001}) {
    SCOPED_TRACE(steps);
    const std::vector<double> d = Tensor::linspace(-3.7, 11.3, steps, DType::f64).to_vector<double>();
    ASSERT_EQ(d.size(), static_cast<std::size_t>(steps));
    EXPECT_EQ(d.front(), -3.7);
    EXPECT_EQ(d.back(), 11.3);
    const double step = 15.0 / static_cast<double>(steps - 1);
    for (std::size_t i = 0; i < d.size(); ++i) EXPECT_NEAR(d[i], -3.7 + step * static_cast<double>(i), 1e-12);
    const std::vector<float> f = Tensor::linspace(-3.7, 11.3, steps).to_vector<float>();
    EXPECT_EQ(f.front(), -3.7f);
    EXPECT_EQ(f.back(), 11.3f);
  }
  EXPECT_EQ(Tensor::linspace(2.0, 9.0, 0).numel(), 0);
  EXPECT_EQ(Tensor::linspace(5.0, -5.0, 3).to_vector<float>(), (std::vector<float>{5, 0, -5}));
  EXPECT_THROW(Tensor::linspace(0.0, 1.0, -1), dm::ValueError);
}

TEST(Creation, LinspaceWithOneStepIsStart) {
  // torch.linspace(2, 9, 1) is [2.]: a single point is the start, not the end.
  EXPECT_EQ(Tensor::linspace(2.0, 9.0, 1).to_vector<float>(), std::vector<float>{2.0f});
  EXPECT_EQ(Tensor::linspace(-1.0, 1.0, 1, dm::DType::f64).to_vector<double>(), std::vector<double>{-1.0});
}

TEST(Creation, EyeSquareAndRectangular) {
  for (auto [n, m] : std::vector<std::pair<std::int64_t, std::int64_t>>{{3, -1}, {2, 4}, {4, 2}, {0, -1}, {1, 1}, {3, 0}}) {
    SCOPED_TRACE(testing::Message() << n << " x " << m);
    const Tensor e = Tensor::eye(n, m, DType::i64);
    const std::int64_t cols = m < 0 ? n : m;
    dm_test::expect_elements(e, {n, cols}, [](const dm_test::Index& i) { return i[0] == i[1] ? 1.0 : 0.0; });
  }
  EXPECT_EQ(Tensor::eye(2).dtype(), DType::f32);
  EXPECT_THROW(Tensor::eye(-1), dm::ValueError);
}

TEST(Creation, FromVectorDeducesDtypeAndChecksSize) {
  EXPECT_EQ(Tensor::from_vector(std::vector<float>{1, 2}).dtype(), DType::f32);
  EXPECT_EQ(Tensor::from_vector(std::vector<double>{1, 2}).dtype(), DType::f64);
  EXPECT_EQ(Tensor::from_vector(std::vector<std::int32_t>{1}).dtype(), DType::i32);
  EXPECT_EQ(Tensor::from_vector(std::vector<std::int64_t>{1}).dtype(), DType::i64);
  EXPECT_EQ(Tensor::from_vector(std::vector<std::uint8_t>{1}).dtype(), DType::u8);
  EXPECT_EQ(Tensor::from_vector(std::vector<dm::bf16>{1.5f}).dtype(), DType::bf16);
  const Tensor b = Tensor::from_vector(std::vector<bool>{true, false, true});
  EXPECT_EQ(b.dtype(), DType::boolean);
  EXPECT_EQ(b.to_vector<bool>(), (std::vector<bool>{true, false, true}));
  const Tensor t = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  dm_test::expect_elements(t, {2, 3}, [](const dm_test::Index& i) { return static_cast<double>(i[0] * 3 + i[1] + 1); });
  EXPECT_EQ(Tensor::from_vector(std::vector<float>{9}, Shape{}).dim(), 0);
  EXPECT_EQ(Tensor::from_vector(std::vector<float>{}).shape(), Shape({0}));
  const std::string msg = error_of<dm::ShapeError>([] { Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}); });
  EXPECT_THAT(msg, HasSubstr("[from_vector] 3 values"));
  EXPECT_THAT(msg, HasSubstr("(2, 2)"));
}

TEST(Creation, FromBufferCopies) {
  std::int32_t raw[6] = {1, -2, 3, -4, 5, -6};
  const Tensor t = Tensor::from_buffer(raw, {3, 2}, DType::i32);
  raw[0] = 100;  // the tensor owns a copy
  EXPECT_EQ(t.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, -2, 3, -4, 5, -6}));
  EXPECT_NE(t.data_ptr(), static_cast<void*>(raw));
  const double d[2] = {0.25, -8.0};
  EXPECT_EQ(Tensor::from_buffer(d, {2}, DType::f64).to_vector<double>(), (std::vector<double>{0.25, -8.0}));
  EXPECT_EQ(Tensor::from_buffer(nullptr, {0, 3}, DType::f32).numel(), 0);
  EXPECT_THAT(error_of<dm::ValueError>([] { Tensor::from_buffer(nullptr, {2}, DType::f32); }), HasSubstr("null"));
}
