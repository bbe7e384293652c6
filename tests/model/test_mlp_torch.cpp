// A 784-32-10 MLP (Dense, ReLU, Dense) against PyTorch on the same weights and inputs:
// logits, loss and every parameter gradient, from tests/fixtures/mlp/mlp.json (written by
// tests/fixtures/make_mlp_fixture.py, which documents the format).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>

#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "nn/nn_test_util.hpp"

namespace {

using nn_test::expect_close;
using nn_test::kAtol32;
using nn_test::kRtol32;
using dm::Tensor;
using json = nlohmann::json;

json load_fixture() {
  std::ifstream in(std::string(DM_TEST_FIXTURES_DIR) + "/mlp/mlp.json");
  EXPECT_TRUE(in.good()) << "missing tests/fixtures/mlp/mlp.json; run /usr/bin/python3 tests/fixtures/make_mlp_fixture.py";
  return json::parse(in);
}

Tensor tensor_of(const json& values, const dm::Shape& shape) {
  return Tensor::from_vector(values.get<std::vector<float>>(), shape);
}

// The first layer's weight from the fixture's integer recipe, checked against its checksums.
Tensor first_weight(const json& recipe, std::int64_t rows, std::int64_t cols) {
  const auto multiplier = recipe["multiplier"].get<std::uint32_t>();
  const auto modulus = recipe["modulus"].get<std::uint32_t>();
  const auto offset = recipe["offset"].get<std::int64_t>();
  const int scale_log2 = recipe["scale_log2"].get<int>();
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  std::int64_t checksum = 0, weighted = 0;
  for (std::int64_t k = 0; k < rows * cols; ++k) {
    const std::uint32_t h = static_cast<std::uint32_t>(k) * multiplier;  // mod 2^32 by unsigned wrap-around
    const std::int64_t q = static_cast<std::int64_t>(h % modulus) - offset;
    checksum += q;
    weighted += q * (k % 1000);
    w[static_cast<std::size_t>(k)] = std::ldexp(static_cast<float>(q), scale_log2);
  }
  EXPECT_EQ(checksum, recipe["checksum"].get<std::int64_t>());
  EXPECT_EQ(weighted, recipe["weighted_checksum"].get<std::int64_t>());
  return Tensor::from_vector(w, {rows, cols});
}

TEST(MlpAgainstTorch, ForwardLossAndGradients) {
  const json fx = load_fixture();
  const auto sizes = fx["sizes"].get<std::vector<std::int64_t>>();
  ASSERT_EQ(sizes, (std::vector<std::int64_t>{784, 32, 10}));
  const std::int64_t batch = fx["batch"].get<std::int64_t>();
  const std::int64_t in = sizes[0], hidden = sizes[1], out = sizes[2];

  dm::Model model = dm::nn::Sequential()
                        .add(dm::nn::Dense(in, hidden))
                        .add(dm::nn::ReLU())
                        .add(dm::nn::Dense(hidden, out))
                        .build();
  dm::nn::Module& net = model.module();
  net.load_parameter("0.weight", first_weight(fx["W1_recipe"], hidden, in));
  net.load_parameter("0.bias", tensor_of(fx["b1"], {hidden}));
  net.load_parameter("2.weight", tensor_of(fx["W2"], {out, hidden}));
  net.load_parameter("2.bias", tensor_of(fx["b2"], {out}));

  std::vector<float> pixels;
  const float scale = fx["x_scale"].get<float>();
  for (const auto& p : fx["x_pixels"]) pixels.push_back(static_cast<float>(p.get<int>()) * scale);
  const Tensor x = Tensor::from_vector(pixels, {batch, in});
  const Tensor y = Tensor::from_vector(fx["labels"].get<std::vector<std::int64_t>>());

  expect_close(net(x), fx["logits"].get<std::vector<double>>(), kRtol32, kAtol32, "logits");
  Tensor loss;
  const dm::Gradients grads = model.compute_gradients(x, y, &loss);
  expect_close(loss, {fx["loss"].get<double>()}, kRtol32, kAtol32, "loss");

  const json& expected = fx["grads"];
  expect_close(grads["0.bias"], expected["0.bias"].get<std::vector<double>>(), kRtol32, kAtol32, "0.bias");
  expect_close(grads["2.weight"], expected["2.weight"].get<std::vector<double>>(), kRtol32, kAtol32, "2.weight");
  expect_close(grads["2.bias"], expected["2.bias"].get<std::vector<double>>(), kRtol32, kAtol32, "2.bias");
  // 0.weight: the listed columns as given, every other column exactly zero (its input is zero).
  const auto columns = expected["0.weight"]["columns"].get<std::vector<std::int64_t>>();
  const auto values = expected["0.weight"]["values"].get<std::vector<double>>();
  std::vector<double> dense(static_cast<std::size_t>(hidden * in), 0.0);
  for (std::int64_t r = 0; r < hidden; ++r)
    for (std::size_t c = 0; c < columns.size(); ++c)
      dense[r * in + columns[c]] = values[r * columns.size() + c];
  expect_close(grads["0.weight"], dense, kRtol32, kAtol32, "0.weight");
}

}  // namespace
