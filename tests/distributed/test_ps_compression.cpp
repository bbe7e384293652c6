// Compressed pushes: a worker's updates travel as bf16 with error feedback, and what the
// server applied over many steps adds up to the true updates short only of the last step's
// rounding; bf16 payloads are checked like f32 ones.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/distributed/parameter_server.hpp"
#include "democratising/distributed/worker.hpp"
#include "distributed/frame.hpp"
#include "distributed/test_ps_loopback.hpp"

namespace {

using namespace std::chrono_literals;
using dm::dist::ParameterServer;
using dm::dist::ParameterServerOptions;
using dm::dist::UpdateMode;
using dm::dist::Worker;
using dm::dist::WorkerOptions;
using ps_test::Runner;

constexpr int kSteps = 50;

// Deterministic values in [-1, 1): a fixed linear congruential stream, independent of the library.
std::vector<float> uniform_values(std::size_t n, std::uint32_t& state) {
  std::vector<float> out(n);
  for (float& v : out) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  return out;
}

asio::awaitable<void> serve(ParameterServer& server) {
  while (auto update = co_await server.next_update()) {
    server.apply_update(*update);
    co_await server.broadcast_parameters();
  }
  co_await server.drain(5000ms);
}

TEST(PsCompression, SentUpdatesAddUpToTheTrueOnesWithinTheLastRounding) {
  Runner r;
  // Plain SGD at lr 1: the parameters move by exactly minus the sum of what the server received.
  dm::Model server_model = ps_test::small_model(11, 1.0);
  const std::vector<float> before = server_model.module().flat_parameters().to_vector<float>();
  const std::size_t n = before.size();
  ParameterServerOptions options;
  options.mode = UpdateMode::asynchronous;
  options.max_version = kSteps;
  ParameterServer server(r.io.get_executor(), server_model, options);
  dm::Model worker_model = ps_test::small_model(12);
  WorkerOptions wo;
  wo.port = server.port();
  wo.reply_timeout = 20000ms;
  wo.compression = dm::dist::Compression::bf16;
  Worker worker(r.io.get_executor(), worker_model, wo);
  std::vector<double> true_sum(n, 0.0);
  std::vector<double> plain_rounding_sum(n, 0.0);  // bf16 without error feedback, for contrast
  r.spawn(serve(server));
  r.spawn([&]() -> asio::awaitable<void> {
    co_await worker.connect();
    std::uint32_t state = 2024;
    for (int step = 0; step < kSteps; ++step) {
      const std::vector<float> g = uniform_values(n, state);
      dm::Gradients grads;
      grads.flat = dm::Tensor::from_vector(g);
      const std::vector<float> rounded = grads.flat.to(dm::DType::bf16).to(dm::DType::f32).to_vector<float>();
      for (std::size_t i = 0; i < n; ++i) {
        true_sum[i] += g[i];
        plain_rounding_sum[i] += rounded[i];
      }
      co_await worker.send_update(grads);
      const bool more = co_await worker.sync_parameters();
      EXPECT_TRUE(more) << "step " << step;
    }
    co_await worker.leave();
  });
  r.run();
  ASSERT_EQ(server.version(), kSteps);
  const std::vector<float> after = server_model.module().flat_parameters().to_vector<float>();
  const dm::Tensor residual = worker.compression_residual();
  ASSERT_TRUE(residual.defined());
  // What the updates sent still owe the true ones.
  const std::vector<float> owed = residual.to_vector<float>();
  // |v| < 2 at every step (|g| < 1 plus a residual below 2^-8), where half a bf16 ulp is at most
  // 2^-8; 1e-4 covers the f32 rounding of 50 parameter updates of size < 2 on values below 64.
  const double last_rounding = std::ldexp(1.0, -8);
  const double f32_slack = 1e-4;
  double plain_worst = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double applied = static_cast<double>(before[i]) - static_cast<double>(after[i]);
    EXPECT_NEAR(applied, true_sum[i], last_rounding + f32_slack) << "element " << i;
    EXPECT_NEAR(applied + owed[i], true_sum[i], f32_slack) << "element " << i << ": sent + residual = true";
    EXPECT_LE(std::abs(owed[i]), last_rounding) << "element " << i;
    plain_worst = std::max(plain_worst, std::abs(plain_rounding_sum[i] - true_sum[i]));
  }
  // Without feedback the roundings of 50 steps pile up beyond one step's: the bound above is tight enough to tell.
  EXPECT_GT(plain_worst, last_rounding + f32_slack);
}

TEST(PsCompression, Bf16PayloadsHalveTheBytesAndAreAcceptedOnlyWhereAllowed) {
  std::vector<float> values(512);
  std::uint32_t state = 7;
  values = uniform_values(values.size(), state);
  const dm::Tensor f32 = dm::Tensor::from_vector(values);
  const dm::Tensor bf16 = f32.to(dm::DType::bf16);
  const auto wide = dm::dist::wire::encode_tensor_parts("gradient", f32, {{"base_version", "0"}});
  const auto narrow = dm::dist::wire::encode_tensor_parts("gradient", bf16, {{"base_version", "0"}});
  EXPECT_EQ(wide.body().size(), 512 * 4u);
  EXPECT_EQ(narrow.body().size(), 512 * 2u);
  const auto payload = dm::dist::wire::encode_tensor_payload("gradient", bf16, {{"base_version", "3"}});
  const auto back = dm::dist::wire::decode_tensor_payload(payload, "gradient", 512, true);
  EXPECT_EQ(back.tensor.dtype(), dm::DType::bf16);
  EXPECT_EQ(back.tensor.to(dm::DType::f32).to_vector<float>(), bf16.to(dm::DType::f32).to_vector<float>());
  // Parameters are f32 only, and a bf16 gradient of the wrong size is refused like an f32 one.
  EXPECT_THROW(dm::dist::wire::decode_tensor_payload(payload, "gradient", 512), dm::FormatError);
  EXPECT_THROW(dm::dist::wire::decode_tensor_payload(payload, "gradient", 511, true), dm::FormatError);
  // Other dtypes neither travel nor are accepted.
  EXPECT_THROW(dm::dist::wire::encode_tensor_payload("gradient", f32.to(dm::DType::f64), {}), dm::DTypeError);
  const auto f64_payload = dm::io::serialize_safetensors({{"gradient", f32.to(dm::DType::f64)}}, {});
  EXPECT_THROW(dm::dist::wire::decode_tensor_payload(f64_payload, "gradient", 512, true), dm::FormatError);
}

TEST(PsCompression, CompressedWorkersTrainTheServerModel) {
  Runner r;
  dm::Model server_model = ps_test::small_model(7, 0.2);
  const dm::Batch held_out = ps_test::separable_batch(400, 999);
  ParameterServerOptions options;
  options.mode = UpdateMode::synchronous;
  options.max_version = 60;
  options.min_workers = 2;
  ParameterServer server(r.io.get_executor(), server_model, options);
  dm::Model ma = ps_test::small_model(8), mb = ps_test::small_model(9);
  WorkerOptions wo;
  wo.port = server.port();
  wo.reply_timeout = 20000ms;
  wo.compression = dm::dist::Compression::bf16;
  wo.name = "a";
  Worker a(r.io.get_executor(), ma, wo);
  wo.name = "b";
  Worker b(r.io.get_executor(), mb, wo);
  r.spawn(serve(server));
  for (Worker* w : {&a, &b}) {
    r.spawn([&, w]() -> asio::awaitable<void> {
      co_await w->connect();
      for (std::uint64_t step = 0;; ++step) {
        co_await w->send_update(w->compute_gradients(ps_test::separable_batch(32, (w == &a ? 1000 : 5000) + step)));
        const bool more = co_await w->sync_parameters();
        if (!more) break;
      }
      co_await w->leave();
    });
  }
  r.run();
  EXPECT_EQ(server.version(), 60);
  EXPECT_GE(ps_test::accuracy(server_model, held_out), 0.9);
}

}  // namespace
