// BatchNorm1d/2d and GroupNorm: parameters and buffers, training and evaluation mode, the
// running statistics against plain loops, and the errors of the ops and the layers.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/normalization.hpp"
#include "democratising/nn/sequential.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

// Per-channel mean and unbiased variance of x (N, C, S...), by plain loops.
void channel_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  const std::int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c);
  const std::vector<double> v = x.to_vector<double>();
  mean.assign(static_cast<std::size_t>(c), 0.0);
  var.assign(static_cast<std::size_t>(c), 0.0);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double sum = 0.0, sq = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < s; ++j) sum += v[static_cast<std::size_t>((i * c + ch) * s + j)];
    const double m = sum / static_cast<double>(n * s);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < s; ++j) {
        const double d = v[static_cast<std::size_t>((i * c + ch) * s + j)] - m;
        sq += d * d;
      }
    mean[static_cast<std::size_t>(ch)] = m;
    var[static_cast<std::size_t>(ch)] = sq / static_cast<double>(n * s - 1);
  }
}

const Tensor& buffer_named(const nn::NamedTensors& buffers, const std::string& name) {
  for (const auto& [n, t] : buffers)
    if (n == name) return t;
  throw std::runtime_error("no buffer " + name);
}

TEST(BatchNorm, ParametersAndBuffersLikeTorch) {
  const nn::BatchNorm2d layer(3);
  const nn::NamedTensors params = layer.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(params[1].first, "bias");
  expect_close(layer.weight(), {1, 1, 1}, 0, 0);
  expect_close(layer.bias(), {0, 0, 0}, 0, 0);
  const nn::NamedTensors buffers = layer.named_buffers();
  ASSERT_EQ(buffers.size(), 3u);
  expect_close(buffer_named(buffers, "running_mean"), {0, 0, 0}, 0, 0);
  expect_close(buffer_named(buffers, "running_var"), {1, 1, 1}, 0, 0);
  EXPECT_EQ(buffer_named(buffers, "num_batches_tracked").dtype(), DType::i64);
  EXPECT_EQ(buffer_named(buffers, "num_batches_tracked").dim(), 0);
  for (const auto& [name, b] : buffers) EXPECT_FALSE(b.requires_grad()) << name;
  EXPECT_EQ(layer.num_parameters(), 6);
  EXPECT_EQ(layer.name(), "BatchNorm2d(3, eps=1e-05, momentum=0.1)");
  EXPECT_TRUE(layer.uses_batch_statistics());
}

TEST(BatchNorm, TrainingUpdatesRunningStatisticsLikePlainLoops) {
  nn::BatchNorm1d layer(4, 1e-5, 0.25, DType::f64);
  const Tensor x1 = normal({6, 4, 3}, 1, DType::f64, 2.0), x2 = normal({5, 4, 3}, 2, DType::f64);
  layer.forward(x1);
  layer.forward(x2);
  std::vector<double> mean = {0, 0, 0, 0}, var = {1, 1, 1, 1}, m, v;
  for (const Tensor* x : {&x1, &x2}) {
    channel_stats(*x, m, v);
    for (std::size_t c = 0; c < 4; ++c) {
      mean[c] = 0.25 * m[c] + 0.75 * mean[c];
      var[c] = 0.25 * v[c] + 0.75 * var[c];
    }
  }
  const nn::NamedTensors buffers = layer.named_buffers();
  expect_close(buffer_named(buffers, "running_mean"), mean, kRtol64, kAtol64, "running_mean");
  expect_close(buffer_named(buffers, "running_var"), var, kRtol64, kAtol64, "running_var");
  EXPECT_EQ(buffer_named(buffers, "num_batches_tracked").item<std::int64_t>(), 2);
}

TEST(BatchNorm, EvaluationUsesRunningStatisticsAndLeavesThemAlone) {
  nn::BatchNorm1d layer(2, 1e-5, 0.1, DType::f64);
  layer.load_buffer("running_mean", Tensor::from_vector(std::vector<double>{1.0, -2.0}, Shape{2}));
  layer.load_buffer("running_var", Tensor::from_vector(std::vector<double>{4.0, 0.25}, Shape{2}));
  const Tensor x = normal({3, 2}, 3, DType::f64);
  const std::vector<double> xv = x.to_vector<double>();
  std::vector<double> want(6);
  for (std::size_t i = 0; i < 6; ++i) {
    const double mean = i % 2 ? -2.0 : 1.0, var = i % 2 ? 0.25 : 4.0;
    want[i] = (xv[i] - mean) / std::sqrt(var + 1e-5);
  }
  {
    nn::EvalModeGuard eval;
    expect_close(layer.forward(x), want, kRtol64, kAtol64, "under EvalModeGuard");
  }
  layer.eval();
  expect_close(layer.forward(x), want, kRtol64, kAtol64, "after eval()");
  const nn::NamedTensors buffers = layer.named_buffers();
  expect_close(buffer_named(buffers, "running_mean"), {1.0, -2.0}, 0, 0);
  EXPECT_EQ(buffer_named(buffers, "num_batches_tracked").item<std::int64_t>(), 0);
  // A batch of one is fine in evaluation mode.
  EXPECT_EQ(layer.forward(normal({1, 2}, 4, DType::f64)).shape(), Shape({1, 2}));
}

TEST(ModuleBuffers, DottedNamesThroughChildrenAndNotParameters) {
  nn::Sequential net;
  net.add(nn::Dense(3, 4)).add(nn::BatchNorm1d(4)).add(nn::ReLU()).add(nn::Dense(4, 2));
  const nn::NamedTensors buffers = net.named_buffers();
  ASSERT_EQ(buffers.size(), 3u);
  EXPECT_EQ(buffers[0].first, "1.running_mean");
  EXPECT_EQ(buffers[1].first, "1.running_var");
  EXPECT_EQ(buffers[2].first, "1.num_batches_tracked");
  EXPECT_EQ(net.named_parameters().size(), 6u);
  EXPECT_EQ(net.num_parameters(), 3 * 4 + 4 + 4 + 4 + 4 * 2 + 2);
  EXPECT_TRUE(net.uses_batch_statistics());
  const Tensor flat = net.flatten_parameters();
  EXPECT_EQ(flat.numel(), net.num_parameters());  // buffers stay out of the parameter block

  net.load_buffer("1.running_var", Tensor::full({4}, 3.0));
  expect_close(net.named_buffers()[1].second, {3, 3, 3, 3}, 0, 0);
  expect_throw_with<dm::ValueError>([&] { net.load_buffer("1.running_sd", Tensor::zeros({4})); },
                                    "no buffer named '1.running_sd'");
  expect_throw_with<dm::ValueError>([&] { net.load_buffer("0.running_mean", Tensor::zeros({4})); },
                                    "no buffer named '0.running_mean'");
  expect_throw_with<dm::ShapeError>([&] { net.load_buffer("1.running_mean", Tensor::zeros({5})); },
                                    "'1.running_mean' has shape");
}

TEST(ModuleBuffers, NamedBuffersAreCopies) {
  const nn::BatchNorm1d layer(2);
  Tensor copy = layer.named_buffers()[0].second;
  copy.fill_(5.0);
  expect_close(layer.named_buffers()[0].second, {0, 0}, 0, 0);
}

class WithBuffers : public nn::Module {
 public:
  WithBuffers() {
    register_parameter("w", Tensor::ones({2}));
    register_buffer("count", Tensor::zeros({1}));
  }
  Tensor forward(const Tensor& x) const override { return x; }
  std::string name() const override { return "WithBuffers"; }
  void add(const std::string& name) { register_buffer(name, Tensor::zeros({1})); }
};

TEST(ModuleBuffers, RegistrationErrors) {
  WithBuffers m;
  EXPECT_FALSE(m.uses_batch_statistics());
  expect_throw_with<dm::ValueError>([&] { m.add("count"); }, "buffer 'count' is already registered");
  expect_throw_with<dm::ValueError>([&] { m.add("w"); }, "'w' is already a parameter");
  expect_throw_with<dm::ValueError>([&] { m.add("a.b"); }, "contain no '.'");
  expect_throw_with<dm::ValueError>([&] { m.add(""); }, "non-empty");
}

TEST(GroupNorm, MatchesPlainLoopsAndIgnoresTheMode) {
  nn::GroupNorm layer(2, 4, 1e-5, DType::f64);
  EXPECT_FALSE(layer.uses_batch_statistics());
  EXPECT_TRUE(layer.named_buffers().empty());
  EXPECT_EQ(layer.name(), "GroupNorm(2 groups, 4 channels, eps=1e-05)");
  const Tensor x = normal({2, 4, 3}, 5, DType::f64, 3.0);
  const std::vector<double> v = x.to_vector<double>();
  std::vector<double> want(v.size());
  for (std::size_t row = 0; row < 4; ++row) {  // (sample, group): 6 contiguous values
    double mean = 0.0, var = 0.0;
    for (std::size_t j = 0; j < 6; ++j) mean += v[row * 6 + j] / 6.0;
    for (std::size_t j = 0; j < 6; ++j) var += (v[row * 6 + j] - mean) * (v[row * 6 + j] - mean) / 6.0;
    for (std::size_t j = 0; j < 6; ++j) want[row * 6 + j] = (v[row * 6 + j] - mean) / std::sqrt(var + 1e-5);
  }
  expect_close(layer.forward(x), want, 1e-12, 1e-12, "training mode");
  layer.eval();
  expect_close(layer.forward(x), want, 1e-12, 1e-12, "evaluation mode");
}

TEST(NormErrors, BatchNormShapes) {
  const Tensor x = normal({4, 3, 5}, 6);
  expect_throw_with<dm::ShapeError>(
      [&] { nn::batch_norm(x, Tensor(), Tensor(), Tensor::ones({4}), Tensor(), true); },
      "[batch_norm] weight (4,) does not match the 3 channels of x (4, 3, 5)");
  expect_throw_with<dm::ShapeError>(
      [&] { nn::batch_norm(x, Tensor::zeros({2}), Tensor::ones({3}), Tensor(), Tensor(), false); },
      "running_mean (2,) does not match the 3 channels");
  expect_throw_with<dm::ShapeError>([&] { nn::batch_norm(normal({1, 3}, 7), Tensor(), Tensor(), {}, {}, true); },
                                    "expected more than 1 value per channel when training, got x (1, 3)");
  expect_throw_with<dm::ShapeError>([&] { nn::batch_norm(normal({3}, 7), Tensor(), Tensor(), {}, {}, true); },
                                    "at least 2 dims");
  expect_throw_with<dm::ValueError>([&] { nn::batch_norm(x, Tensor(), Tensor(), {}, {}, false); },
                                    "running_mean is needed in evaluation mode");
  expect_throw_with<dm::DTypeError>(
      [&] { nn::batch_norm(x, Tensor(), Tensor(), Tensor::ones({3}, DType::f64), Tensor(), true); },
      "dtypes must match");
  expect_throw_with<dm::DTypeError>(
      [&] { nn::batch_norm(Tensor::zeros({2, 3}, DType::i64), Tensor(), Tensor(), {}, {}, true); }, "f32, f64");
}

TEST(NormErrors, BatchNormLayers) {
  nn::BatchNorm2d bn2(3);
  expect_throw_with<dm::ShapeError>([&] { bn2.forward(normal({2, 3, 4}, 8)); },
                                    "[BatchNorm2d] expected input (N, C, H, W), got x (2, 3, 4)");
  expect_throw_with<dm::ShapeError>([&] { bn2.forward(normal({2, 4, 3, 3}, 8)); },
                                    "[BatchNorm2d] weight (3,) does not match the 4 channels");
  nn::BatchNorm1d bn1(3);
  expect_throw_with<dm::ShapeError>([&] { bn1.forward(normal({1, 3}, 9)); },
                                    "[BatchNorm1d] expected more than 1 value per channel when training");
  expect_throw_with<dm::ShapeError>([&] { bn1.forward(normal({2, 3, 2, 2}, 9)); },
                                    "expected input (N, C) or (N, C, L)");
  // A refused batch leaves the running statistics alone.
  EXPECT_EQ(bn1.named_buffers()[2].second.item<std::int64_t>(), 0);
  expect_throw_with<dm::ShapeError>([] { nn::BatchNorm1d(0); }, "must be positive");
  expect_throw_with<dm::ValueError>([] { nn::BatchNorm1d(2, -1.0); }, "eps must be >= 0");
  expect_throw_with<dm::ValueError>([] { nn::BatchNorm1d(2, 1e-5, 1.5); }, "momentum must be in [0, 1]");
  expect_throw_with<dm::DTypeError>([] { nn::BatchNorm2d(2, 1e-5, 0.1, DType::i32); }, "f32, f64 or bf16");
}

TEST(NormErrors, GroupNorm) {
  const Tensor x = normal({2, 6, 4}, 10);
  expect_throw_with<dm::ShapeError>([&] { nn::group_norm(x, 4); },
                                    "[group_norm] groups 4 must be positive and divide the 6 channels of x (2, 6, 4)");
  expect_throw_with<dm::ShapeError>([&] { nn::group_norm(x, 0); }, "groups 0 must be positive");
  expect_throw_with<dm::ShapeError>([&] { nn::group_norm(x, 3, Tensor::ones({3})); },
                                    "[group_norm] weight (3,) does not match the 6 channels");
  expect_throw_with<dm::ShapeError>([&] { nn::group_norm(normal({6}, 1), 3); }, "at least 2 dims");
  expect_throw_with<dm::ShapeError>([] { nn::GroupNorm(4, 6); }, "num_groups 4 must be positive and divide");
  nn::GroupNorm layer(3, 6);
  expect_throw_with<dm::ShapeError>([&] { layer.forward(normal({2, 4, 3}, 2)); }, "divide the 4 channels");
}

TEST(NormOps, Bf16ComputesInF32) {
  const Tensor x = normal({4, 3, 2}, 11);
  const Tensor y32 = nn::group_norm(x, 3);
  const Tensor y16 = nn::group_norm(x.to(DType::bf16), 3);
  EXPECT_EQ(y16.dtype(), DType::bf16);
  // bf16 keeps 8 significant bits: one rounding of the input and one of the output.
  expect_close(y16.to(DType::f32), y32.to_vector<double>(), 2e-2, 2e-2, "bf16");
  const Tensor b16 = nn::batch_norm(x.to(DType::bf16), Tensor(), Tensor(), {}, {}, true);
  expect_close(b16.to(DType::f32), nn::batch_norm(x, Tensor(), Tensor(), {}, {}, true).to_vector<double>(), 2e-2,
               2e-2, "bf16 batch norm");
}

TEST(NormOps, EmptyBatchInEvaluation) {
  const Tensor y = nn::batch_norm(Tensor::zeros({0, 3, 2}), Tensor::zeros({3}), Tensor::ones({3}));
  EXPECT_EQ(y.shape(), Shape({0, 3, 2}));
  EXPECT_EQ(nn::group_norm(Tensor::zeros({0, 4}), 2).shape(), Shape({0, 4}));
}

}  // namespace
