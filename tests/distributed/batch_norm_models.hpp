#pragma once
// Small networks with batch norm and the checks shared by the synchronised batch norm tests
// (in-process ranks and `mpirun`): a step of DDP on shards against Model::train_step on the
// whole batch.
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "democratising/core/random.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/conv.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/normalization.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/optim/optimizer.hpp"

namespace dm::dist::testing {

inline ModelOptions sgd_options() {
  return ModelOptions{.optimizer = std::make_shared<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9})};
}

/// Dense(5 -> 8) - BatchNorm1d(8) - ReLU - Dense(8 -> 3), for (N, 5) inputs and 3 classes.
inline Model batch_norm_mlp(std::uint64_t seed, DType dtype) {
  manual_seed(seed);
  return nn::Sequential()
      .add(nn::Dense(5, 8, true, dtype))
      .add(nn::BatchNorm1d(8, 1e-5, 0.1, dtype))
      .add(nn::ReLU())
      .add(nn::Dense(8, 3, true, dtype))
      .build(sgd_options());
}

/// Conv2d(1 -> 4, 3x3, padding 1) - BatchNorm2d(4) - ReLU - Flatten - Dense(4 * 6 * 6 -> 3), for
/// (N, 1, 6, 6) inputs and 3 classes.
inline Model batch_norm_cnn(std::uint64_t seed, DType dtype) {
  manual_seed(seed);
  return nn::Sequential()
      .add(nn::Conv2d(1, 4, 3, 1, 1, 1, 1, true, dtype))
      .add(nn::BatchNorm2d(4, 1e-5, 0.1, dtype))
      .add(nn::ReLU())
      .add(nn::Flatten())
      .add(nn::Dense(4 * 6 * 6, 3, true, dtype))
      .build(sgd_options());
}

/// Parameters, then buffers (running statistics, batch counts), in one f64 vector.
inline std::vector<double> model_state(Model& model) {
  std::vector<double> out = model.module().flat_parameters().to_vector<double>();
  for (const auto& [name, buffer] : model.module().named_buffers()) {
    const std::vector<double> v = buffer.to_vector<double>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

/// Each value within PyTorch's f32 tolerance (atol 1e-5, rtol 1.3e-6), or 1e-12 in f64.
inline void expect_state_close(const std::vector<double>& got, const std::vector<double>& want, DType dtype,
                               const std::string& what) {
  const double atol = dtype == DType::f32 ? 1e-5 : 1e-12, rtol = dtype == DType::f32 ? 1.3e-6 : 1e-12;
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::abs(got[i] - want[i]), atol + rtol * std::abs(want[i]))
        << what << ": value " << i << " is " << got[i] << ", one process has " << want[i];
}

}  // namespace dm::dist::testing
