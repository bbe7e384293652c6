// CheckpointOptions::extra: a trainer's own tensors travel in the model's checkpoint under
// "extra.<name>", come back bit for bit when asked for, and are passed over when not.
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "model_test_util.hpp"

namespace {

using dm::Model;
using dm::Tensor;
namespace nn = dm::nn;
using model_test::TempDir;

Model net(std::uint64_t seed) {
  dm::manual_seed(seed);
  return nn::Sequential().add(nn::Dense(4, 6)).add(nn::Dense(6, 3)).build();
}

TEST(CheckpointExtra, ExtraTensorsRoundTripBesideTheModel) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  dm::manual_seed(7);
  nn::NamedTensors saved{{"ddp.residuals", Tensor::randn(dm::Shape{2, 5})},
                         {"counts", Tensor::from_vector<std::int64_t>({3, 1, 4}, dm::Shape{3})}};
  net(1).save_checkpoint(path, {}, {.extra = &saved});
  // Stored under their prefix, beside the parameters.
  const auto names = dm::io::load_safetensors(path);
  EXPECT_EQ(names.count("extra.ddp.residuals"), 1u);
  EXPECT_EQ(names.count("extra.counts"), 1u);

  Model fresh = net(2);
  nn::NamedTensors loaded{{"stale", Tensor::zeros(dm::Shape{1})}};  // replaced, not appended to
  fresh.load_checkpoint(path, {.extra = &loaded});
  ASSERT_EQ(loaded.size(), 2u);
  std::map<std::string, Tensor> by_name(loaded.begin(), loaded.end());
  EXPECT_EQ(by_name.at("ddp.residuals").to_vector<float>(), saved[0].second.to_vector<float>());
  EXPECT_EQ(by_name.at("counts").to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, 1, 4}));
  EXPECT_EQ(fresh.module().flat_parameters().to_vector<float>(), net(1).module().flat_parameters().to_vector<float>());
}

TEST(CheckpointExtra, LoadingWithoutAskingPassesOverThem) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  nn::NamedTensors saved{{"residuals", Tensor::ones(dm::Shape{4})}};
  net(1).save_checkpoint(path, {}, {.extra = &saved});
  Model fresh = net(2);
  EXPECT_NO_THROW(fresh.load_checkpoint(path));
  EXPECT_EQ(fresh.module().flat_parameters().to_vector<float>(), net(1).module().flat_parameters().to_vector<float>());
}

TEST(CheckpointExtra, NonFiniteExtraTensorsAreRefusedLikeParameters) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  nn::NamedTensors saved{{"residuals", Tensor::full(dm::Shape{2}, std::numeric_limits<double>::quiet_NaN())}};
  EXPECT_THROW(net(1).save_checkpoint(path, {}, {.extra = &saved}), dm::ValueError);
}

}  // namespace
