// matmul_into: the product written into storage the caller owns, equal to matmul's, and a
// typed error for every output it cannot write into.
#include <gtest/gtest.h>

#include "democratising/democratising.hpp"
#include "ops/matmul_into.hpp"

namespace {

using dm::DType;
using dm::Tensor;

TEST(MatmulInto, WritesMatmulsResultIntoTheGivenStorage) {
  dm::manual_seed(2);
  const Tensor a = Tensor::randn({37, 19}), b = Tensor::randn({23, 19});
  // A view into a larger buffer, the way a gradient lands in a flat gradient vector.
  const Tensor flat = Tensor::full({5 + 37 * 23}, 7.0);
  const Tensor out = flat.narrow(0, 5, 37 * 23).view({37, 23});
  dm::matmul_into(a, b.t(), out);
  EXPECT_EQ(out.contiguous().to_vector<float>(), a.matmul(b.t()).to_vector<float>());
  EXPECT_EQ(flat.narrow(0, 0, 5).to_vector<float>(), std::vector<float>(5, 7.0f)) << "wrote outside its view";
}

TEST(MatmulInto, RejectsOutputsItCannotWriteInto) {
  const Tensor a = Tensor::ones({4, 3}), b = Tensor::ones({3, 5});
  EXPECT_THROW(dm::matmul_into(a, b, Tensor::zeros({4, 6})), dm::ShapeError);
  EXPECT_THROW(dm::matmul_into(a, b, Tensor::zeros({5, 4}).t()), dm::ShapeError);  // not contiguous
  EXPECT_THROW(dm::matmul_into(a, b, Tensor::zeros({4, 5}, DType::f64)), dm::DTypeError);
  EXPECT_THROW(dm::matmul_into(a.to(DType::i32), b.to(DType::i32), Tensor::zeros({4, 5}, DType::i32)), dm::DTypeError);
  EXPECT_THROW(dm::matmul_into(Tensor::ones({3}), b, Tensor::zeros({5})), dm::ShapeError);
  const Tensor square = Tensor::ones({4, 4});
  EXPECT_THROW(dm::matmul_into(square, square, square), dm::ValueError);
  EXPECT_THROW(dm::matmul_into(a, b, Tensor()), dm::Error);
}

}  // namespace
