// Batch norm under the DDP trainer, on in-process ranks: every rank normalises with the whole
// batch's statistics, so training on shards is training on the whole batch in one process
// (parameters and running statistics), the ranks stay bitwise equal, a rank without rows still
// takes part, evaluation mode exchanges nothing, and a rank that never comes is a timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "batch_norm_models.hpp"
#include "ddp_fixture.hpp"
#include "democratising/base/error.hpp"
#include "democratising/distributed/distributed_trainer.hpp"

namespace dm::dist {
namespace {

using namespace testing;
using ModelMaker = Model (*)(std::uint64_t, DType);

struct Batch {
  Tensor x, y;
};

// `steps` batches of `rows` samples for a model made by `make`.
std::vector<Batch> batches(ModelMaker make, int steps, std::int64_t rows, DType dtype) {
  manual_seed(77);
  std::vector<Batch> out;
  const Shape sample = make == &batch_norm_cnn ? Shape{rows, 1, 6, 6} : Shape{rows, 5};
  for (int s = 0; s < steps; ++s)
    out.push_back({(Tensor::randn(sample) * 1.5 + 0.3).to(dtype), Tensor::randint(0, 3, Shape{rows})});
  return out;
}

// Trains one process on the whole batches and `ranks` in-process ranks on their shards (each
// rank's model made from another seed: the trainer's broadcast evens them out). Compares the
// final state of every rank with the one process, and the ranks with each other bit for bit.
void expect_ddp_equals_one_process(ModelMaker make, int ranks, std::int64_t rows, DType dtype) {
  const std::vector<Batch> data = batches(make, 3, rows, dtype);
  Model whole = make(1, dtype);
  for (const Batch& b : data) whole.train_step(b.x, b.y);
  const std::vector<double> want = model_state(whole);

  std::vector<Model> models;
  for (int r = 0; r < ranks; ++r) models.push_back(make(r == 0 ? 1 : 100 + static_cast<std::uint64_t>(r), dtype));
  run_local(ranks, [&](World& world) {
    DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world, {.bucket_bytes = 256});
    for (const Batch& b : data) trainer.train_step(shard(b.x, world), shard(b.y, world));
  });
  for (int r = 0; r < ranks; ++r) {
    const std::vector<double> got = model_state(models[static_cast<std::size_t>(r)]);
    expect_state_close(got, want, dtype, "rank " + std::to_string(r));
    // Parameters and running statistics: the same bits on every rank.
    EXPECT_EQ(got, model_state(models[0])) << "rank " << r << " differs from rank 0";
  }
}

TEST(DdpBatchNorm, DenseBatchNormOnTwoRanksTrainsAsOneProcessOnTheWholeBatch) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    expect_ddp_equals_one_process(&batch_norm_mlp, 2, 32, dtype);
  }
}

TEST(DdpBatchNorm, ConvBatchNormOnTwoRanksTrainsAsOneProcessOnTheWholeBatch) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    expect_ddp_equals_one_process(&batch_norm_cnn, 2, 32, dtype);
  }
}

// Batch 3 on 4 ranks: rank 0 has no rows (shard() gives it [0, 0)), yet runs its empty shard
// through every exchange; unequal shards of 1 row each give the whole batch's statistics.
TEST(DdpBatchNorm, ARankWithoutRowsStillTakesPart) {
  expect_ddp_equals_one_process(&batch_norm_mlp, 4, 3, DType::f64);
}

// The running statistics are the whole batch's on every rank, not the rank's shard's.
TEST(DdpBatchNorm, RunningStatisticsAreIdenticalOnEveryRankAndTheWholeBatchs) {
  const std::vector<Batch> data = batches(&batch_norm_mlp, 1, 32, DType::f64);
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) models.push_back(batch_norm_mlp(1, DType::f64));
  run_local(2, [&](World& world) {
    DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world);
    trainer.train_step(shard(data[0].x, world), shard(data[0].y, world));
  });
  Model whole = batch_norm_mlp(1, DType::f64);
  whole.train_step(data[0].x, data[0].y);
  const nn::NamedTensors want = whole.module().named_buffers();
  const nn::NamedTensors rank0 = models[0].module().named_buffers(), rank1 = models[1].module().named_buffers();
  ASSERT_EQ(rank0.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].first);
    EXPECT_EQ(rank0[i].second.to_vector<double>(), rank1[i].second.to_vector<double>());
    expect_state_close(rank0[i].second.to_vector<double>(), want[i].second.to_vector<double>(), DType::f64, "buffer");
  }
  // A shard's own statistics would have moved the running mean elsewhere.
  Model alone = batch_norm_mlp(1, DType::f64);
  alone.train_step(data[0].x.narrow(0, 0, 16), data[0].y.narrow(0, 0, 16));
  EXPECT_NE(alone.module().named_buffers()[0].second.to_vector<double>(), rank0[0].second.to_vector<double>());
}

// Counts the started all-gathers (the batch statistics' exchanges) of a World's transport.
class CountingTransport : public Transport {
 public:
  explicit CountingTransport(Transport& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  const char* name() const override { return inner_.name(); }
  void all_reduce(void* data, std::int64_t count, DType dtype, Reduction op) override {
    inner_.all_reduce(data, count, dtype, op);
  }
  std::unique_ptr<PendingCollective> start_all_reduce(void* data, std::int64_t count, DType dtype,
                                                      Reduction op) override {
    return inner_.start_all_reduce(data, count, dtype, op);
  }
  void broadcast(void* data, std::int64_t bytes, int root) override { inner_.broadcast(data, bytes, root); }
  void all_gather(const void* data, void* out, std::int64_t bytes) override { inner_.all_gather(data, out, bytes); }
  std::unique_ptr<PendingCollective> start_all_gather(const void* data, void* out, std::int64_t bytes) override {
    ++started_gathers;
    return inner_.start_all_gather(data, out, bytes);
  }
  void barrier() override { inner_.barrier(); }
  void abort(const std::string& reason) override { inner_.abort(reason); }

  std::atomic<int> started_gathers{0};

 private:
  Transport& inner_;
};

TEST(DdpBatchNorm, EvaluationModeUsesRunningStatisticsWithNoExchange) {
  const std::vector<Batch> data = batches(&batch_norm_cnn, 1, 8, DType::f64);
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) models.push_back(batch_norm_cnn(1, DType::f64));
  Model whole = batch_norm_cnn(1, DType::f64);
  whole.module().eval();
  const Tensor want = whole.compute_gradients(data[0].x, data[0].y).flat.clone();
  std::vector<World> worlds = World::local(2);
  std::vector<int> training_gathers(2), evaluation_gathers(2);
  run_local(2, [&](World& local) {
    auto counting = std::make_shared<CountingTransport>(worlds[static_cast<std::size_t>(local.rank())].transport());
    World world(counting);
    Model& model = models[static_cast<std::size_t>(world.rank())];
    DistributedTrainer trainer(model, world);
    // Evaluation first, while the running statistics are still those of `whole`.
    model.module().eval();
    const int before = counting->started_gathers;
    const Tensor got = trainer.compute_gradients(shard(data[0].x, world), shard(data[0].y, world)).flat;
    evaluation_gathers[static_cast<std::size_t>(world.rank())] = counting->started_gathers - before;
    expect_state_close(got.to_vector<double>(), want.to_vector<double>(), DType::f64, "evaluation-mode gradient");
    model.module().train();
    const int then = counting->started_gathers;
    (void)trainer.compute_gradients(shard(data[0].x, world), shard(data[0].y, world));
    training_gathers[static_cast<std::size_t>(world.rank())] = counting->started_gathers - then;
  });
  // One batch norm layer: its statistics forward, its gradient sums backward.
  EXPECT_EQ(training_gathers, std::vector<int>({2, 2}));
  EXPECT_EQ(evaluation_gathers, std::vector<int>({0, 0}));
}

// One process as a World of size 1 takes the plain op's path in parts: the very same bits (16
// rows: the trainer's scaling of the loss by the rows and of the gradient by 1 / rows is then
// exact, so only batch norm could tell the two apart).
TEST(DdpBatchNorm, AWorldOfOneGivesModelTrainStepsBits) {
  const std::vector<Batch> data = batches(&batch_norm_cnn, 2, 16, DType::f32);
  Model whole = batch_norm_cnn(1, DType::f32), ddp = batch_norm_cnn(1, DType::f32);
  for (const Batch& b : data) whole.train_step(b.x, b.y);
  run_local(1, [&](World& world) {
    DistributedTrainer trainer(ddp, world);
    for (const Batch& b : data) trainer.train_step(b.x, b.y);
  });
  EXPECT_EQ(model_state(ddp), model_state(whole));
}

// Rank 1 makes its trainer and stops: rank 0's first exchange gives up after the World's
// timeout instead of waiting for ever.
TEST(DdpBatchNorm, ARankThatNeverComesIsATimeoutNotAHang) {
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) models.push_back(batch_norm_mlp(1, DType::f32));
  const std::vector<Batch> data = batches(&batch_norm_mlp, 1, 8, DType::f32);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(run_local(
                   2,
                   [&](World& world) {
                     DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world);
                     if (world.rank() == 0) trainer.train_step(shard(data[0].x, world), shard(data[0].y, world));
                   },
                   WorldOptions{.timeout = std::chrono::milliseconds(300)}),
               TimeoutError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(DistributedTrainer, AcceptsGroupNorm) {
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) {
    nn::Sequential layers;
    layers.add(nn::Dense(4, 6)).add(nn::GroupNorm(3, 6)).add(nn::Dense(6, 2));
    models.push_back(std::move(layers).build());
  }
  manual_seed(2);
  const Tensor x = Tensor::randn({4, 4}), y = Tensor::randint(0, 2, Shape{4});
  run_local(2, [&](World& world) {
    DistributedTrainer trainer(models[static_cast<std::size_t>(world.rank())], world);
    trainer.train_step(x.narrow(0, 2 * world.rank(), 2), y.narrow(0, 2 * world.rank(), 2));
  });
}

}  // namespace
}  // namespace dm::dist
