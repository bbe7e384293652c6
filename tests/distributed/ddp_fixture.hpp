#pragma once
// Small networks and checks shared by the data-parallel tests (in-process and under mpirun).
#include <cstdint>
#include <string>
#include <vector>

#include "democratising/distributed/world.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/optim/optimizer.hpp"
#include "democratising/core/random.hpp"

namespace dm::dist::testing {

/// An MLP in_features-hidden-classes whose initial parameters depend on `seed`.
inline Model make_mlp(std::uint64_t seed, std::int64_t in_features, std::int64_t hidden, std::int64_t classes) {
  manual_seed(seed);
  return nn::Sequential()
      .add(nn::Dense(in_features, hidden))
      .add(nn::ReLU())
      .add(nn::Dense(hidden, classes))
      .build(ModelOptions{.optimizer = std::make_shared<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9})});
}

/// Rows [rank * n / size, (rank + 1) * n / size) of a batch: this rank's shard.
inline Tensor shard(const Tensor& batch, const World& world) {
  const std::int64_t n = batch.size(0);
  const std::int64_t begin = n * world.rank() / world.size();
  const std::int64_t end = n * (world.rank() + 1) / world.size();
  return batch.narrow(0, begin, end - begin).contiguous();
}

/// The first rank whose parameters differ in any bit from rank 0's, or -1 when all agree.
inline int first_rank_with_other_parameters(World& world, Model& model) {
  const Tensor mine = model.module().flat_parameters().contiguous();
  const Tensor all = world.all_gather(mine);
  const std::vector<std::uint8_t> bytes(static_cast<const std::uint8_t*>(all.data_ptr()),
                                        static_cast<const std::uint8_t*>(all.data_ptr()) + all.numel() * 4);
  const std::size_t per_rank = static_cast<std::size_t>(mine.numel()) * 4;
  for (int r = 1; r < world.size(); ++r)
    for (std::size_t i = 0; i < per_rank; ++i)
      if (bytes[static_cast<std::size_t>(r) * per_rank + i] != bytes[i]) return r;
  return -1;
}

}  // namespace dm::dist::testing
