// optim::clip_grad_norm: the norm and the clipped values against a plain f64 loop and against
// torch.nn.utils.clip_grad_norm_ (tests/fixtures/optim/torch_clip_grad_norm.json, written by
// tests/fixtures/make_clip_fixture.py), on a flat block, separate and strided tensors, and a
// Gradients-like pair; bad bounds and non-finite gradients refused without touching anything.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "democratising/base/error.hpp"
#include "democratising/optim/clip_grad_norm.hpp"
#include "optim_test_util.hpp"

namespace {

using namespace optim_test;
using nlohmann::json;

// What torch.nn.utils.clip_grad_norm_ does, element by element in f64.
struct Naive {
  double norm;
  std::vector<double> clipped;
};

template <class T>
Naive naive_clip(const std::vector<T>& g, double max_norm) {
  double sum = 0.0;
  for (T v : g) sum += static_cast<double>(v) * static_cast<double>(v);
  Naive out{std::sqrt(sum), {}};
  const double factor = std::min(1.0, max_norm / (out.norm + 1e-6));
  for (T v : g) out.clipped.push_back(static_cast<double>(v) * factor);
  return out;
}

template <class T>
void check_against_loop(double scale, double max_norm) {
  const auto shapes = small_net();
  const std::vector<T> values = random_values<T>(total_numel(shapes), 7, scale);
  const Naive want = naive_clip(values, max_norm);
  // The same values as one flat block, as separate tensors and as strided views.
  const FlatSet flat = make_flat(shapes, values);
  const double flat_norm = dm::optim::clip_grad_norm(flat.flat, max_norm);
  const dm::nn::NamedTensors separate = make_separate(shapes, values);
  std::vector<Tensor> separate_list;
  for (const auto& n : separate) separate_list.push_back(n.second);
  const double separate_norm = dm::optim::clip_grad_norm(separate_list, max_norm);
  const dm::nn::NamedTensors strided = make_strided(shapes, values);
  std::vector<Tensor> strided_list;
  for (const auto& n : strided) strided_list.push_back(n.second);
  const double strided_norm = dm::optim::clip_grad_norm(strided_list, max_norm);

  // The norm is summed in f64 in blocks: only the order of the additions differs from the loop.
  for (double norm : {flat_norm, separate_norm, strided_norm}) EXPECT_NEAR(norm, want.norm, 1e-12 * want.norm);
  expect_close(flat.flat.to_vector<T>(), want.clipped, "flat");
  expect_close(values_of<T>(separate), want.clipped, "separate");
  expect_close(values_of<T>(strided), want.clipped, "strided");
}

TEST(ClipGradNorm, MatchesAPlainLoop) {
  for (const auto& [scale, max_norm] : std::vector<std::pair<double, double>>{{3.0, 0.5}, {1.0, 3.0}, {0.1, 10.0}}) {
    SCOPED_TRACE("scale " + std::to_string(scale) + ", max_norm " + std::to_string(max_norm));
    check_against_loop<float>(scale, max_norm);
    check_against_loop<double>(scale, max_norm);
  }
}

TEST(ClipGradNorm, BelowTheBoundLeavesEveryBitAlone) {
  const std::vector<float> values = random_values<float>(40, 8, 0.01);
  Tensor g = Tensor::from_vector(values);
  dm::optim::clip_grad_norm(g, 100.0);
  EXPECT_TRUE(bitwise_equal(g.to_vector<float>(), values));
}

TEST(ClipGradNorm, TakesGradientsLikeAModelsWithAFlatBlockOrWithout) {
  // dm::Gradients lives in the model layer above; any type with `flat` and `tensors` fits.
  struct Grads {
    dm::nn::NamedTensors tensors;
    Tensor flat;
  };
  const auto shapes = small_net();
  const std::vector<float> values = random_values<float>(total_numel(shapes), 9, 2.0);
  const Naive want = naive_clip(values, 1.0);
  const FlatSet set = make_flat(shapes, values);
  const Grads with_block{set.named, set.flat};
  EXPECT_NEAR(dm::optim::clip_grad_norm(with_block, 1.0), want.norm, 1e-12 * want.norm);
  expect_close(values_of<float>(set.named), want.clipped, "through the block");
  const Grads without_block{make_separate(shapes, values), Tensor()};
  EXPECT_NEAR(dm::optim::clip_grad_norm(without_block, 1.0), want.norm, 1e-12 * want.norm);
  expect_close(values_of<float>(without_block.tensors), want.clipped, "tensor by tensor");
}

TEST(ClipGradNorm, SkipsUndefinedGradientsAndAcceptsNone) {
  Tensor g = Tensor::from_vector(std::vector<float>{3.0f, 4.0f});
  EXPECT_DOUBLE_EQ(dm::optim::clip_grad_norm(std::vector<Tensor>{Tensor(), g}, 1.0), 5.0);
  expect_close(g.to_vector<float>(), {3.0 / (5.0 + 1e-6), 4.0 / (5.0 + 1e-6)}, "clipped");
  EXPECT_EQ(dm::optim::clip_grad_norm(std::vector<Tensor>{}, 1.0), 0.0);
}

TEST(ClipGradNorm, NonFiniteGradientsAreAnErrorAndStayUntouched) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const std::vector<float> values = {1.0f, bad, 2.0f};
    Tensor g = Tensor::from_vector(values);
    Tensor other = Tensor::from_vector(std::vector<float>{10.0f, 10.0f});
    try {
      dm::optim::clip_grad_norm(std::vector<Tensor>{other, g}, 1.0);
      ADD_FAILURE() << "a non-finite norm was accepted";
    } catch (const dm::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("training diverged"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(bitwise_equal(g.to_vector<float>(), values));
    EXPECT_EQ(other.to_vector<float>(), (std::vector<float>{10.0f, 10.0f}));
  }
}

TEST(ClipGradNorm, RefusesABoundThatIsNotPositiveAndFinite) {
  Tensor g = Tensor::ones({3});
  for (double bad : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()})
    EXPECT_THROW(dm::optim::clip_grad_norm(g, bad), dm::ValueError) << bad;
  EXPECT_THROW(dm::optim::clip_grad_norm(Tensor::ones({3}, DType::i64), 1.0), dm::DTypeError);
}

template <class T>
void run_torch_case(const json& c) {
  std::vector<Tensor> grads;
  std::vector<double> want;
  for (std::size_t k = 0; k < c["shapes"].size(); ++k) {
    const Shape shape(c["shapes"][k].get<std::vector<std::int64_t>>());
    std::vector<T> values;
    for (double v : c["grads"][k]) values.push_back(static_cast<T>(v));
    grads.push_back(Tensor::from_vector(values, shape));
    for (double v : c["clipped"][k]) want.push_back(v);
  }
  const double norm = dm::optim::clip_grad_norm(grads, c["max_norm"].get<double>());
  // torch sums the squares in the gradients' dtype, we in f64: f32 norms differ by rounding.
  const double expected_norm = c["norm"].get<double>();
  EXPECT_NEAR(norm, expected_norm, (sizeof(T) == 4 ? 1.3e-6 : 1e-12) * expected_norm + 1e-12);
  expect_close(values_of<T>(grads), want, "clipped gradients");
}

TEST(ClipGradNorm, MatchesTorch) {
  std::ifstream in(std::string(DM_TEST_FIXTURES_DIR) + "/optim/torch_clip_grad_norm.json");
  ASSERT_TRUE(in) << "missing tests/fixtures/optim/torch_clip_grad_norm.json";
  const json fixture = json::parse(in);
  ASSERT_EQ(fixture["cases"].size(), 8u);
  for (const json& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    if (c["dtype"] == "f32") run_torch_case<float>(c);
    else run_torch_case<double>(c);
  }
}

}  // namespace
