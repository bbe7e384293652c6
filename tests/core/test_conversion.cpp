// to(DType) for every pair of dtypes against static_cast, and the element accessors item and
// to_vector, on contiguous and strided tensors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <tuple>

#include "core/reference_indexing.hpp"
#include "democratising/democratising.hpp"

using dm::DType;
using dm::Tensor;
using testing::HasSubstr;

namespace {

using AllTypes = std::tuple<float, double, dm::bf16, std::int32_t, std::int64_t, std::uint8_t, bool>;

template <class F, std::size_t... I>
void for_each_type_impl(F&& f, std::index_sequence<I...>) {
  (f.template operator()<std::tuple_element_t<I, AllTypes>>(), ...);
}

/// Calls f.template operator()<T>() for every element type.
template <class F>
void for_each_type(F&& f) {
  for_each_type_impl(f, std::make_index_sequence<std::tuple_size_v<AllTypes>>{});
}

/// Source values every target can hold without undefined behaviour: negative values only for
/// signed integer sources (their conversion to u8 wraps, which is defined), fractions only
/// for floating sources.
template <class T>
std::vector<T> sample_values() {
  if constexpr (std::is_same_v<T, bool>) {
    return {true, false, true, true, false, false};
  } else if constexpr (std::is_same_v<T, std::uint8_t>) {
    return {0, 1, 7, 128, 200, 255};
  } else if constexpr (std::is_integral_v<T>) {
    return {0, 1, -5, 127, 200, -100};
  } else {
    return {T(0.0f), T(0.25f), T(1.5f), T(2.75f), T(100.5f), T(254.875f)};
  }
}

/// The value static_cast gives, with bf16 going through float and bool as "!= 0".
template <class To, class From>
To reference_cast(From v) {
  if constexpr (std::is_same_v<From, dm::bf16>) {
    return reference_cast<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, dm::bf16>) {
    return dm::bf16(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

}  // namespace

TEST(Conversion, EveryDtypePairMatchesStaticCast) {
  for_each_type([&]<class From>() {
    const std::vector<From> values = sample_values<From>();
    const Tensor src = Tensor::from_vector(values, {2, 3});
    const Tensor strided = src.t();  // (3, 2): exercises strided reads
    for_each_type([&]<class To>() {
      SCOPED_TRACE(std::string(dm::dtype_name(dm::dtype_of_v<From>)) + " -> " +
                   std::string(dm::dtype_name(dm::dtype_of_v<To>)));
      const Tensor out = src.to(dm::dtype_of_v<To>);
      ASSERT_EQ(out.dtype(), dm::dtype_of_v<To>);
      ASSERT_EQ(out.shape(), src.shape());
      const To* p = out.template data<To>();
      for (std::size_t k = 0; k < values.size(); ++k)
        EXPECT_TRUE(same_bits(p[k], reference_cast<To>(values[k]))) << "element " << k;
      const Tensor out_t = strided.to(dm::dtype_of_v<To>).contiguous();
      const To* q = out_t.template data<To>();
      for (std::int64_t r = 0; r < 3; ++r)
        for (std::int64_t c = 0; c < 2; ++c)
          EXPECT_TRUE(same_bits(q[r * 2 + c], reference_cast<To>(values[static_cast<std::size_t>(c * 3 + r)])));
      if constexpr (std::is_same_v<From, To>) {
        EXPECT_TRUE(out.shares_storage_with(src));  // same dtype: no copy
      } else {
        EXPECT_FALSE(out.shares_storage_with(src));
      }
    });
  });
}

TEST(Conversion, ItemOfOneElementTensors) {
  EXPECT_EQ(Tensor::scalar(2.5, DType::f64).item<double>(), 2.5);
  EXPECT_EQ(Tensor::scalar(2.5, DType::f64).item<int>(), 2);
  EXPECT_EQ(Tensor::full({1, 1, 1}, 9.0, DType::i64).item<std::int64_t>(), 9);
  EXPECT_EQ(Tensor::scalar(0.0, DType::boolean).item<bool>(), false);
  EXPECT_EQ(Tensor::scalar(1.5, DType::bf16).item<float>(), 1.5f);
  const Tensor t = dm_test::numbered({3, 4});
  EXPECT_EQ(t.select(0, 2).select(0, 1).item<double>(), 9.5);
  const std::string msg = dm_test::error_of<dm::ShapeError>([&] { t.item<double>(); });
  EXPECT_THAT(msg, HasSubstr("[item]"));
  EXPECT_THAT(msg, HasSubstr("(3, 4)"));
  EXPECT_THROW(Tensor::zeros({0}).item<float>(), dm::ShapeError);
}

TEST(Conversion, ToVectorFollowsRowMajorOrderOfViews) {
  const Tensor t = dm_test::numbered({2, 3, 4});
  const Tensor v = t.permute({2, 0, 1}).slice(0, 1, 4, 2);  // (2, 2, 3)
  const std::vector<double> got = v.to_vector<double>();
  std::vector<double> want;
  for (std::int64_t a = 0; a < 2; ++a)
    for (std::int64_t b = 0; b < 2; ++b)
      for (std::int64_t c = 0; c < 3; ++c) want.push_back(static_cast<double>(b * 12 + c * 4 + (1 + 2 * a)) + 0.5);
  EXPECT_EQ(got, want);
  const std::vector<std::int32_t> ints = v.to_vector<std::int32_t>();
  for (std::size_t k = 0; k < ints.size(); ++k) EXPECT_EQ(ints[k], static_cast<std::int32_t>(want[k]));
  EXPECT_TRUE(Tensor::zeros({0, 5}).to_vector<float>().empty());
  EXPECT_EQ(Tensor::scalar(3.0).to_vector<float>(), std::vector<float>{3.0f});
  EXPECT_EQ(dm_test::numbered({2}).expand({3, 2}).to_vector<double>(), (std::vector<double>{0.5, 1.5, 0.5, 1.5, 0.5, 1.5}));
}

TEST(Conversion, DataChecksTheDtype) {
  const Tensor t = Tensor::zeros({2}, DType::f64);
  EXPECT_NE(t.data<double>(), nullptr);
  const std::string msg = dm_test::error_of<dm::DTypeError>([&] { t.data<float>(); });
  EXPECT_THAT(msg, HasSubstr("f64"));
  EXPECT_THAT(msg, HasSubstr("f32"));
}

TEST(Conversion, ContiguousAndCloneCopyOnlyWhenNeeded) {
  const Tensor t = dm_test::numbered({3, 4});
  EXPECT_TRUE(t.contiguous().shares_storage_with(t));
  const Tensor tr = t.t();
  const Tensor c = tr.contiguous();
  EXPECT_FALSE(c.shares_storage_with(t));
  EXPECT_TRUE(c.is_contiguous());
  dm_test::expect_elements(c, {4, 3}, [&](const dm_test::Index& i) { return dm_test::at(t, {i[1], i[0]}); });
  const Tensor k = t.clone();
  EXPECT_FALSE(k.shares_storage_with(t));
  EXPECT_EQ(k.to_vector<double>(), t.to_vector<double>());
}
