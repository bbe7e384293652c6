// Prints the library's defaults as "key value" lines, read from the real option structs and
// objects, for check_defaults.py to compare with the numbers docs/ states. Where an option is
// private, the value is measured from what the object does (AdamW's weight decay, StepLR's
// gamma). Keys name the unit the docs use (timeout_s, bucket_mib).
#include <sched.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <democratising/model/data_parallel.hpp>
#include <democratising/async.hpp>
#include <democratising/democratising.hpp>
#include <democratising/distributed.hpp>
#include <democratising/distributed/parameter_server.hpp>
#include <democratising/distributed/worker.hpp>

#include "distributed/frame.hpp"

namespace {

void print(const char* key, double value) { std::printf("%s %.17g\n", key, value); }
void print(const char* key, const std::string& value) { std::printf("%s %s\n", key, value.c_str()); }

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

// The decoupled weight decay of an optimizer: one step with a zero gradient on a parameter of 1
// leaves 1 - lr * weight_decay (Adam's own update is 0 for a zero gradient).
double measured_weight_decay(dm::optim::Optimizer& optimizer) {
  dm::Tensor p = dm::Tensor::ones({1}, dm::DType::f64).set_requires_grad();
  optimizer.bind({{"p", p}});
  optimizer.step({dm::Tensor::zeros({1}, dm::DType::f64)});
  return (1.0 - p.item<double>()) / optimizer.lr();
}

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
  return CPU_COUNT(&set);
}

}  // namespace

int main() {
  // Optimizers: the option structs, and what a Model and make_optimizer choose when not told.
  const dm::optim::SGDOptions sgd;
  print("sgd.lr", sgd.lr);
  print("sgd.momentum", sgd.momentum);
  print("sgd.dampening", sgd.dampening);
  print("sgd.weight_decay", sgd.weight_decay);
  const dm::optim::AdamOptions adam;
  print("adam.lr", adam.lr);
  print("adam.beta1", adam.beta1);
  print("adam.beta2", adam.beta2);
  print("adam.eps", adam.eps);
  print("adam.weight_decay", adam.weight_decay);
  dm::optim::AdamW adamw;
  print("adamw.lr", adamw.lr());
  print("adamw.weight_decay", measured_weight_decay(adamw));
  auto named = dm::optim::make_optimizer("sgd", 0.1);
  print("make_optimizer.momentum", dynamic_cast<dm::optim::SGD&>(*named).options().momentum);
  auto named_adamw = dm::optim::make_optimizer("adamw", 1e-3);
  print("make_optimizer.adamw_weight_decay", measured_weight_decay(*named_adamw));
  dm::Model model = dm::nn::Sequential().add(dm::nn::Dense(1, 1)).build();
  auto& model_sgd = dynamic_cast<dm::optim::SGD&>(model.optimizer());
  print("model.optimizer", model_sgd.name());
  print("model.lr", model_sgd.options().lr);
  print("model.momentum", model_sgd.options().momentum);

  // Schedules: their optional arguments, from what they compute.
  print("steplr.gamma", dm::optim::StepLR(1.0, 1).lr_at(1));
  print("cosine.min_lr", dm::optim::CosineLR(1.0, 1).lr_at(1));

  // Layers and data.
  print("dropout.p", dm::nn::Dropout().p());
  const dm::data::DataLoaderOptions loader;
  print("loader.batch_size", static_cast<double>(loader.batch_size));
  print("loader.seed", static_cast<double>(loader.seed));
  print("async.prefetch", static_cast<double>(dm::data::AsyncDataLoaderOptions{}.prefetch));

  // Parallel training.
  print("data_parallel.shard_size", static_cast<double>(dm::DataParallelOptions{}.shard_size));
  print("model_parallel.micro_batches", dm::ModelParallelOptions{}.micro_batches);
  // The pool: DM_NUM_THREADS when set (the test runs without it), else the cores this process may use.
  print("pool.threads", dm::num_threads() == usable_cores() ? std::string("cores") : std::to_string(dm::num_threads()));

  // Distributed training.
  print("dist.bucket_mib", static_cast<double>(dm::dist::DistributedOptions{}.bucket_bytes) / (1 << 20));
  print("world.timeout_s", seconds(dm::dist::WorldOptions{}.timeout));
  const dm::dist::ParameterServerOptions ps;
  print("ps.address", ps.address);
  print("ps.wire", std::string(dm::dist::wire_protection_name(ps.wire)));
  // A worker must choose as its server does: their defaults agree.
  if (dm::dist::WorkerOptions{}.wire != ps.wire) print("ps.wire", std::string("workers-differ"));
  print("ps.handshake_timeout_s", seconds(ps.handshake_timeout));
  print("ps.worker_timeout_s", seconds(ps.worker_timeout));
  print("ps.idle_timeout_s", seconds(ps.idle_timeout));
  print("ps.max_frame_mib", static_cast<double>(ps.max_frame_bytes) / (1 << 20));
  print("ps.max_workers", static_cast<double>(ps.max_workers));
  print("ps.max_handshakes", static_cast<double>(ps.max_handshakes));
  print("ps.max_nonfinite_updates", static_cast<double>(ps.max_nonfinite_updates));
  print("ps.min_workers", static_cast<double>(ps.min_workers));
  print("ps.preauth_kib", static_cast<double>(dm::dist::wire::kMaxControlPayload) / 1024);
  const dm::dist::WorkerOptions worker;
  print("worker.connect_timeout_s", seconds(worker.connect_timeout));
  print("worker.reply_timeout_s", seconds(worker.reply_timeout));
  print("worker.connect_attempts", worker.connect_attempts);
  print("worker.initial_backoff_ms", static_cast<double>(worker.initial_backoff.count()));
  print("worker.max_backoff_ms", static_cast<double>(worker.max_backoff.count()));
  return 0;
}
