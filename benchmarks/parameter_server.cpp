// Parameter-server push + pull of 1M f32 parameters against a plain TCP loopback exchange of
// the same bytes, in the same run: frames plain, sealed and authenticated.
//
//   bench_parameter_server [--quick] [--side N]
//
// --side N serves a Dense(N, N) model (N*N + N parameters) instead of Dense(1000, 1000): a
// small side checks that the program runs without timing anything that matters.
//
// One round: the worker sends its gradient (a frame with a safetensors payload), the server
// validates it, applies it with SGD and sends the parameters back, and the worker loads them.
// The reference: a blocking socket writes the same number of bytes, the peer reads them and
// writes as many back. Both use loopback TCP with TCP_NODELAY; rounds of the two alternate,
// and the median of each is reported.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <democratising/distributed/parameter_server.hpp>
#include <democratising/distributed/worker.hpp>
#include <democratising/nn/layers.hpp>
#include <democratising/nn/sequential.hpp>
#include <democratising/optim/optimizer.hpp>
#include <democratising/core/random.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

dm::Model square_model(std::int64_t side) {
  dm::manual_seed(1);
  dm::ModelOptions options;
  options.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 1e-6});
  return dm::nn::Sequential().add(dm::nn::Dense(side, side)).build(options);  // side^2 + side parameters
}

// A plain TCP echo of `bytes` each way: the reference.
class RawExchange {
 public:
  RawExchange(std::size_t bytes, int rounds)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), client_(io_), out_(bytes, 1), in_(bytes) {
    const auto port = acceptor_.local_endpoint().port();
    echo_ = std::thread([this, bytes, rounds] {
      tcp::socket s = acceptor_.accept();
      s.set_option(tcp::no_delay(true));
      std::vector<char> buffer(bytes);
      for (int i = 0; i < rounds; ++i) {
        asio::read(s, asio::buffer(buffer));
        asio::write(s, asio::buffer(buffer));
      }
    });
    client_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    client_.set_option(tcp::no_delay(true));
  }
  ~RawExchange() { echo_.join(); }
  double round() {
    const auto start = Clock::now();
    asio::write(client_, asio::buffer(out_));
    asio::read(client_, asio::buffer(in_));
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket client_;
  std::vector<char> out_, in_;
  std::thread echo_;
};

// A server on its own thread and one worker driven round by round from the caller.
class PsExchange {
 public:
  // With a secret every frame after the handshake is sealed (AES-256-GCM) or authenticated
  // (AES-256-GMAC), as `wire` says; without, plain.
  PsExchange(std::int64_t side, int rounds, const std::string& secret,
             dm::dist::WireProtection wire = dm::dist::WireProtection::sealed)
      : server_model_(square_model(side)), worker_model_(square_model(side)) {
    dm::dist::ParameterServerOptions options;
    options.mode = dm::dist::UpdateMode::asynchronous;
    options.max_version = rounds;
    options.secret = secret;
    options.wire = wire;
    server_ = std::make_unique<dm::dist::ParameterServer>(server_io_.get_executor(), server_model_, options);
    asio::co_spawn(server_io_, serve(), asio::detached);
    server_thread_ = std::thread([this] { server_io_.run(); });
    dm::dist::WorkerOptions worker_options;
    worker_options.port = server_->port();
    worker_options.secret = secret;
    worker_options.wire = wire;
    worker_ = std::make_unique<dm::dist::Worker>(worker_io_.get_executor(), worker_model_, worker_options);
    grads_.flat = dm::Tensor::full({worker_model_.module().flat_parameters().numel()}, 0.5);
    drive([this]() -> asio::awaitable<void> { co_await worker_->connect(); });
  }
  ~PsExchange() {
    drive([this]() -> asio::awaitable<void> {
      co_await worker_->send_update(grads_);  // answered with "done": the server has finished
      co_await worker_->sync_parameters();
      co_await worker_->leave();
    });
    server_thread_.join();
  }
  double round() {
    const auto start = Clock::now();
    drive([this]() -> asio::awaitable<void> {
      co_await worker_->send_update(grads_);
      co_await worker_->sync_parameters();
    });
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

 private:
  asio::awaitable<void> serve() {
    while (auto update = co_await server_->next_update()) {
      server_->apply_update(*update);
      co_await server_->broadcast_parameters();
    }
    co_await server_->drain(std::chrono::seconds(10));
  }
  template <class F>
  void drive(F f) {
    worker_io_.restart();
    asio::co_spawn(worker_io_, f(), asio::detached);
    worker_io_.run();
  }

  dm::Model server_model_, worker_model_;
  asio::io_context server_io_, worker_io_;
  std::unique_ptr<dm::dist::ParameterServer> server_;
  std::unique_ptr<dm::dist::Worker> worker_;
  std::thread server_thread_;
  dm::Gradients grads_;
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::int64_t side = 1000;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--side" && i + 1 < argc) {
      side = std::max<std::int64_t>(1, std::atoll(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_parameter_server [--quick] [--side N]\n");
      return 2;
    }
  }
  const int rounds = quick ? 20 : 100;
  const std::size_t parameters = static_cast<std::size_t>(side * side + side);
  const std::size_t bytes = parameters * sizeof(float);
  // Alternating rounds, so both see the same machine load.
  std::vector<double> raw_times, ps_times, sealed_times, authenticated_times;
  {
    RawExchange raw_exchange(bytes, rounds);
    PsExchange ps_exchange(side, rounds, "");
    PsExchange sealed_exchange(side, rounds, "benchmark secret");
    PsExchange authenticated_exchange(side, rounds, "benchmark secret", dm::dist::WireProtection::authenticated);
    for (int i = 0; i < rounds; ++i) {
      raw_times.push_back(raw_exchange.round());
      ps_times.push_back(ps_exchange.round());
      sealed_times.push_back(sealed_exchange.round());
      authenticated_times.push_back(authenticated_exchange.round());
    }
  }
  const double raw = median(raw_times);
  const double ps = median(ps_times);
  const double sealed = median(sealed_times);
  const double authenticated = median(authenticated_times);
  const double gb = 2.0 * static_cast<double>(bytes) / 1e9;  // both directions
  std::printf("push+pull of %zu f32 parameters (%.1f MB each way), median of %d rounds\n", parameters,
              static_cast<double>(bytes) / 1e6, rounds);
  std::printf("  plain TCP loopback   %8.3f ms  %6.2f GB/s\n", raw * 1e3, gb / raw);
  std::printf("  parameter server     %8.3f ms  %6.2f GB/s  (no secret: loopback, frames plain)\n", ps * 1e3, gb / ps);
  std::printf("  parameter server     %8.3f ms  %6.2f GB/s  (secret: frames sealed, AES-256-GCM)\n", sealed * 1e3,
              gb / sealed);
  std::printf("  parameter server     %8.3f ms  %6.2f GB/s  (secret: frames authenticated, AES-256-GMAC)\n",
              authenticated * 1e3, gb / authenticated);
  std::printf("  ratio to plain TCP: %.2f plain frames (target >= 0.70), %.2f sealed, %.2f authenticated (target >= 0.50)\n",
              raw / ps, raw / sealed, raw / authenticated);
  return 0;
}
