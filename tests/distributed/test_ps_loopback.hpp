#pragma once
// Shared pieces of the in-process parameter-server tests: a small model, a synthetic problem,
// and a runner that drives coroutines on one io_context with a watchdog.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "democratising/data/batch.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/optim/optimizer.hpp"
#include "democratising/core/random.hpp"

namespace ps_test {

/// Dense(8 -> 2) with plain SGD (no momentum), so one step is easy to check by hand.
inline dm::Model small_model(std::uint64_t seed, double lr = 0.1) {
  dm::manual_seed(seed);
  dm::ModelOptions options;
  options.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = lr});
  return dm::nn::Sequential().add(dm::nn::Dense(8, 2)).build(options);
}

/// Two linearly separable classes: label 1 when the sum of the first four features exceeds
/// the sum of the last four. `shard` picks a different slice of the same stream.
inline dm::Batch separable_batch(std::int64_t n, std::uint64_t seed) {
  dm::manual_seed(seed);
  const dm::Tensor x = dm::Tensor::randn({n, 8});
  const auto v = x.to_vector<float>();
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    float score = 0.0f;
    for (int j = 0; j < 8; ++j) score += (j < 4 ? 1.0f : -1.0f) * v[static_cast<std::size_t>(i * 8 + j)];
    labels[static_cast<std::size_t>(i)] = score > 0.0f ? 1 : 0;
  }
  return {x, dm::Tensor::from_vector(labels)};
}

/// Fraction of `batch` the model classifies right, by a plain argmax loop.
inline double accuracy(const dm::Model& model, const dm::Batch& batch) {
  const auto out = model.predict(batch.x).to_vector<float>();
  const auto y = batch.y.to_vector<std::int64_t>();
  std::size_t right = 0;
  for (std::size_t i = 0; i < y.size(); ++i) right += (out[2 * i + 1] > out[2 * i] ? 1 : 0) == y[i];
  return static_cast<double>(right) / static_cast<double>(y.size());
}

/// Spawns coroutines on one io_context and runs it; the first exception any of them throws
/// is rethrown, and a run past `limit` fails the test instead of hanging it.
class Runner {
 public:
  template <class Awaitable>
  void spawn(Awaitable&& a) {
    asio::co_spawn(io, std::forward<Awaitable>(a), [this](std::exception_ptr e) {
      if (e && !failure) failure = e;
    });
  }
  void run(std::chrono::seconds limit = std::chrono::seconds(60)) {
    io.run_for(limit);
    if (!io.stopped()) {
      io.stop();
      ADD_FAILURE() << "the run did not finish within " << limit.count() << " s";
    }
    if (failure) std::rethrow_exception(failure);
  }
  asio::io_context io;
  std::exception_ptr failure;
};

/// Two ends of one loopback TCP connection, connected before the runner starts.
struct SocketPair {
  explicit SocketPair(asio::io_context& io) : a(io), b(io) {
    asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    a.connect(acceptor.local_endpoint());
    b = acceptor.accept();
  }
  asio::ip::tcp::socket a, b;
};

}  // namespace ps_test
