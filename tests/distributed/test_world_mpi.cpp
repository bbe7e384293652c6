// Collectives and data-parallel training across real processes: the launcher tests start
// `mpirun -np 2` on this binary; the MpiRank tests are what each rank runs (they skip when not
// started that way).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <thread>

#include "collective_reference.hpp"
#include "ddp_fixture.hpp"
#include "democratising/data/fashion_mnist.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/distributed/world.hpp"
#include "democratising/base/error.hpp"
#include "distributed/mpi_heartbeat.hpp"
#include "mpi_launch.hpp"

namespace dm::dist {
namespace {

using namespace testing;

// One World for the whole process: MPI cannot start again once finalized.
World& mpi_world() {
  static World world = World::mpi();
  return world;
}

// Another World of the same job whose all-reduces go round the TCP ring.
World& ring_world() {
  static World world = World::mpi(WorldOptions{.all_reduce_route = AllReduceRoute::tcp_ring});
  return world;
}

#define SKIP_OUTSIDE_MPIRUN() \
  if (!inside_mpi_run()) GTEST_SKIP() << "runs inside `mpirun`, started by the MpiLaunch tests"

void expect_ranks_passed(const MpiRunResult& run, const std::string& what, std::size_t ranks = 2) {
  EXPECT_EQ(run.exit_code, 0) << what << " under mpirun:\n" << run.output;
  // Each rank prints its own summary; a rank that skipped everything would prove nothing.
  std::size_t passed = 0;
  for (std::size_t at = run.output.find("[  PASSED  ]"); at != std::string::npos; at = run.output.find("[  PASSED  ]", at + 1)) ++passed;
  EXPECT_EQ(passed, ranks) << run.output;
  EXPECT_EQ(run.output.find("[  SKIPPED ]"), std::string::npos) << run.output;
}

TEST(MpiLaunch, CollectivesAcrossTwoProcesses) {
  expect_ranks_passed(mpi_run(2, "MpiRank.Collective*:MpiRank.Mismatch*"), "collectives");
}

TEST(MpiLaunch, DataParallelFashionMnistAcrossTwoProcesses) {
  expect_ranks_passed(mpi_run(2, "MpiRank.DataParallel*"), "data-parallel training");
}

TEST(MpiLaunch, CompressedDataParallelAcrossTwoProcesses) {
  expect_ranks_passed(mpi_run(2, "MpiRank.Compressed*"), "bf16-compressed data-parallel training");
}

TEST(MpiLaunch, UnequalShardsAcrossThreeProcesses) {
  expect_ranks_passed(mpi_run(3, "MpiRankOfThree.*"), "unequal shards and the tcp ring", 3);
}

TEST(MpiLaunch, ASilentProcessIsATimeoutNotAHang) {
  const auto start = std::chrono::steady_clock::now();
  expect_ranks_passed(mpi_run(2, "MpiRank.Timeout*", std::chrono::seconds(60)), "timeouts");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// The in-process transport's answer for `size` ranks, as rank 0 sees it.
template <class T>
std::vector<T> local_backend_result(int size, std::int64_t n, Reduction op) {
  std::vector<T> out;
  run_local(size, [&](World& world) {
    Tensor t = rank_input<T>(world.rank(), n);
    world.all_reduce(t, op);
    if (world.rank() == 0) out = t.to_vector<T>();
  });
  return out;
}

template <class T>
void check_mpi_all_reduce(std::int64_t n, World& world = mpi_world()) {
  for (Reduction op : all_reductions()) {
    if (op == Reduction::Mean && std::is_integral_v<T>) continue;
    Tensor t = rank_input<T>(world.rank(), n);
    world.all_reduce(t, op);
    const std::vector<T> got = t.to_vector<T>();
    ASSERT_EQ(got, naive_reduce<T>(world.size(), n, op)) << reduction_name(op) << " n=" << n;
    ASSERT_EQ(got, local_backend_result<T>(world.size(), n, op)) << reduction_name(op) << " n=" << n;
  }
}

TEST(MpiRank, CollectiveAllReduceMatchesNaiveLoopsAndTheLocalBackend) {
  SKIP_OUTSIDE_MPIRUN();
  ASSERT_EQ(mpi_world().size(), 2);
  for (std::int64_t n : {1, 3, 1000, 100003}) {
    check_mpi_all_reduce<float>(n);
    check_mpi_all_reduce<double>(n);
    check_mpi_all_reduce<std::int32_t>(n);
    check_mpi_all_reduce<std::int64_t>(n);
  }
  check_mpi_all_reduce<float>(1 << 20);
  check_mpi_all_reduce<float>(3 * (1 << 20) + 1);
}

// The tcp ring gives what MPI gives: every dtype, reduction and size, exact against plain loops
// (the inputs sum exactly in any order) and against the in-process transport.
TEST(MpiRank, CollectiveTcpRingAllReduceMatchesNaiveLoops) {
  SKIP_OUTSIDE_MPIRUN();
  for (std::int64_t n : {1, 3, 1000, 100003}) {
    check_mpi_all_reduce<float>(n, ring_world());
    check_mpi_all_reduce<double>(n, ring_world());
    check_mpi_all_reduce<std::int32_t>(n, ring_world());
    check_mpi_all_reduce<std::int64_t>(n, ring_world());
  }
  check_mpi_all_reduce<float>(3 * (1 << 20) + 1, ring_world());
}

// Ring all-reduces started beside MPI's all-gathers and broadcasts keep the one call order.
TEST(MpiRank, CollectiveTcpRingStartedAllReducesKeepTheirOrderBesideMpiCollectives) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = ring_world();
  for (int round = 0; round < 5; ++round) {
    Tensor a = rank_input<float>(world.rank() + round, 40000);
    Tensor b = rank_input<std::int64_t>(world.rank(), 33);
    auto pa = world.start_all_reduce(a, Reduction::Sum);
    auto pb = world.start_all_reduce(b, Reduction::Max);
    const Tensor gathered = world.all_gather(rank_input<double>(world.rank(), 7));
    pb->wait();
    pa->wait();
    std::vector<float> want(40000, 0.0f);
    for (int r = 0; r < world.size(); ++r) {
      const auto v = rank_input<float>(r + round, 40000).to_vector<float>();
      for (std::size_t i = 0; i < v.size(); ++i) want[i] += v[i];
    }
    EXPECT_EQ(a.to_vector<float>(), want) << "round " << round;
    EXPECT_EQ(b.to_vector<std::int64_t>(), naive_reduce<std::int64_t>(world.size(), 33, Reduction::Max));
    for (int r = 0; r < world.size(); ++r)
      EXPECT_EQ(gathered.select(0, r).to_vector<double>(), rank_input<double>(r, 7).to_vector<double>());
  }
}

TEST(MpiRank, CollectiveStartedAllReducesAndLists) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  Tensor a = rank_input<float>(world.rank(), 5000);
  Tensor b = rank_input<std::int64_t>(world.rank(), 17);
  auto pa = world.start_all_reduce(a, Reduction::Sum);
  auto pb = world.start_all_reduce(b, Reduction::Max);
  pb->wait();
  pa->wait();
  EXPECT_EQ(a.to_vector<float>(), naive_reduce<float>(2, 5000, Reduction::Sum));
  EXPECT_EQ(b.to_vector<std::int64_t>(), naive_reduce<std::int64_t>(2, 17, Reduction::Max));
  std::vector<Tensor> list{rank_input<double>(world.rank(), 9), rank_input<float>(world.rank(), 4)};
  world.all_reduce(list, Reduction::Min);
  EXPECT_EQ(list[0].to_vector<double>(), naive_reduce<double>(2, 9, Reduction::Min));
  EXPECT_EQ(list[1].to_vector<float>(), naive_reduce<float>(2, 4, Reduction::Min));
}

TEST(MpiRank, CollectiveBroadcastGatherBarrier) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  Tensor t = rank_input<double>(world.rank(), 1000);
  world.broadcast(t, 1);
  EXPECT_EQ(t.to_vector<double>(), rank_input<double>(1, 1000).to_vector<double>());
  const Tensor all = world.all_gather(rank_input<std::int32_t>(world.rank(), 8).reshape(Shape{2, 4}));
  ASSERT_EQ(all.shape(), Shape({2, 2, 4}));
  for (int r = 0; r < 2; ++r)
    EXPECT_EQ(all.select(0, r).reshape(Shape{8}).to_vector<std::int32_t>(), rank_input<std::int32_t>(r, 8).to_vector<std::int32_t>());
  for (int i = 0; i < 20; ++i) world.barrier();
}

TEST(MpiRank, MismatchedShapesAreADistributedErrorOnBothRanks) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  Tensor t = Tensor::zeros(Shape{world.rank() == 0 ? 6 : 9});
  EXPECT_THROW(world.all_reduce(t), DistributedError);
  // The check happens before any data moves, so the world goes on working.
  Tensor ok = Tensor::ones(Shape{4});
  world.all_reduce(ok);
  EXPECT_EQ(ok.to_vector<float>(), std::vector<float>(4, 2.0f));
}

TEST(MpiRank, DataParallelFashionMnistReachesBitwiseEqualParametersAndLearns) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  ASSERT_TRUE(std::filesystem::exists(data::kFashionMnistDir)) << "install dataset-fashion-mnist";
  const data::FashionMNIST train(data::Split::train);
  const std::int64_t samples = 512, batch = 64;
  // Different initial parameters on each rank: the trainer's broadcast must make them equal.
  Model model = make_mlp(1000 + static_cast<std::uint64_t>(world.rank()), 784, 32, 10);
  DistributedTrainer trainer(model, world, DistributedOptions{.bucket_bytes = 1 << 10});
  EXPECT_GT(trainer.bucket_count(), 1);
  ASSERT_EQ(first_rank_with_other_parameters(world, model), -1);
  std::vector<double> epoch_loss;
  for (int epoch = 0; epoch < 3; ++epoch) {
    double sum = 0.0;
    for (std::int64_t start = 0; start < samples; start += batch) {
      const Tensor x = train.images().narrow(0, start, batch);
      const Tensor y = train.labels().narrow(0, start, batch);
      sum += trainer.train_step(shard(x, world), shard(y, world)).item<double>();
      ASSERT_EQ(first_rank_with_other_parameters(world, model), -1) << "epoch " << epoch << " batch at " << start;
    }
    epoch_loss.push_back(sum / static_cast<double>(samples / batch));
  }
  EXPECT_LT(epoch_loss.back(), 0.8 * epoch_loss.front()) << epoch_loss.front() << " -> " << epoch_loss.back();
}

// Data-parallel training over the tcp ring: with two ranks each sum is one addition, which
// does not depend on its order, so the ring trains to the very bits MPI trains to.
TEST(MpiRank, DataParallelOverTheTcpRingEqualsMpiBitwise) {
  SKIP_OUTSIDE_MPIRUN();
  ASSERT_EQ(mpi_world().size(), 2);
  manual_seed(6);
  const Tensor x = Tensor::randn(Shape{64, 20});
  const Tensor y = Tensor::randint(0, 4, Shape{64});
  std::vector<std::vector<float>> trained;
  for (World* world : {&mpi_world(), &ring_world()}) {
    Model model = make_mlp(70 + static_cast<std::uint64_t>(world->rank()), 20, 16, 4);
    DistributedTrainer trainer(model, *world, DistributedOptions{.bucket_bytes = 256});
    for (int step = 0; step < 5; ++step) {
      trainer.train_step(shard(x, *world), shard(y, *world));
      ASSERT_EQ(first_rank_with_other_parameters(*world, model), -1) << "after step " << step;
    }
    trained.push_back(model.module().flat_parameters().to_vector<float>());
  }
  EXPECT_EQ(trained[1], trained[0]);
}

// bf16 compression with error feedback across processes: every rank holds the same bits after
// every step, and they are the very bits the in-process transport gives for the same run (the
// same gathers, added in the same rank order).
TEST(MpiRank, CompressedTrainingStaysBitwiseEqualAndMatchesTheInProcessTransport) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  ASSERT_EQ(world.size(), 2);
  manual_seed(5);
  const Tensor x = Tensor::randn(Shape{60, 20});
  const Tensor y = Tensor::randint(0, 4, Shape{60});
  const DistributedOptions options{.bucket_bytes = 256, .compression = Compression::bf16};
  Model model = make_mlp(40 + static_cast<std::uint64_t>(world.rank()), 20, 16, 4);
  DistributedTrainer trainer(model, world, options);
  for (int step = 0; step < 6; ++step) {
    trainer.train_step(shard(x, world), shard(y, world));
    ASSERT_EQ(first_rank_with_other_parameters(world, model), -1) << "after step " << step;
  }
  std::vector<float> local;
  std::vector<Model> models;
  for (int r = 0; r < 2; ++r) models.push_back(make_mlp(40 + static_cast<std::uint64_t>(r), 20, 16, 4));
  run_local(2, [&](World& w) {
    DistributedTrainer t(models[static_cast<std::size_t>(w.rank())], w, options);
    for (int step = 0; step < 6; ++step) t.train_step(shard(x, w), shard(y, w));
  });
  EXPECT_EQ(model.module().flat_parameters().to_vector<float>(), models[0].module().flat_parameters().to_vector<float>());
}

// Started all-gathers and all-reduces interleaved meet their matches in start order.
TEST(MpiRank, CompressedStartedAllGathersKeepTheirOrderBesideAllReduces) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  for (int round = 0; round < 10; ++round) {
    Tensor reduced = rank_input<float>(world.rank(), 2000);
    Tensor mine = rank_input<std::int32_t>(world.rank() + round, 300);
    Tensor gathered = Tensor::empty(Shape{2, 300}, DType::i32);
    auto a = world.start_all_reduce(reduced, Reduction::Sum);
    auto b = world.transport().start_all_gather(mine.data_ptr(), gathered.data_ptr(), 300 * 4);
    b->wait();
    a->wait();
    EXPECT_EQ(reduced.to_vector<float>(), naive_reduce<float>(2, 2000, Reduction::Sum));
    for (int r = 0; r < 2; ++r)
      ASSERT_EQ(gathered.select(0, r).to_vector<std::int32_t>(), rank_input<std::int32_t>(r + round, 300).to_vector<std::int32_t>())
          << "round " << round;
  }
}

// Batch 50 on 3 processes (16, 17 and 17 rows): the reduced gradient is the one this process
// computes on the whole batch, up to the order of the additions (tolerances as in
// test_ddp_local.cpp: f32 within PyTorch's atol 1e-5, f64 within 1e-12), and every rank
// holds the same bits.
TEST(MpiRankOfThree, UnequalShardsGiveTheFullBatchGradient) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  ASSERT_EQ(world.size(), 3);
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    manual_seed(5);
    const Tensor x = Tensor::randn(Shape{50, 20}).to(dtype);
    const Tensor y = Tensor::randint(0, 4, Shape{50});
    manual_seed(21);
    Model model = nn::Sequential()
                      .add(nn::Dense(20, 16, true, dtype))
                      .add(nn::ReLU())
                      .add(nn::Dense(16, 4, true, dtype))
                      .build();
    Tensor full_loss;
    const Tensor full = model.compute_gradients(x, y, &full_loss).flat.clone();
    DistributedTrainer trainer(model, world, DistributedOptions{.bucket_bytes = 256});
    Tensor loss;
    const Tensor reduced = trainer.compute_gradients(shard(x, world), shard(y, world), &loss).flat;
    const double atol = dtype == DType::f32 ? 1e-5 : 1e-12, rtol = dtype == DType::f32 ? 1.3e-6 : 1e-10;
    const std::vector<double> got = reduced.to_vector<double>(), want = full.to_vector<double>();
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_LE(std::abs(got[i] - want[i]), atol + rtol * std::abs(want[i])) << "element " << i;
    EXPECT_NEAR(loss.item<double>(), full_loss.item<double>(), dtype == DType::f32 ? 1e-6 : 1e-13);
    const Tensor all = world.all_gather(reduced.contiguous());
    for (int r = 1; r < world.size(); ++r)
      ASSERT_EQ(all.select(0, r).to_vector<double>(), all.select(0, 0).to_vector<double>()) << "rank " << r;
  }
}

// Three ranks round the ring: every segment passes two ranks before it is whole.
TEST(MpiRankOfThree, TcpRingAllReduceMatchesNaiveLoops) {
  SKIP_OUTSIDE_MPIRUN();
  ASSERT_EQ(ring_world().size(), 3);
  for (std::int64_t n : {1, 2, 3, 4, 1000, 100003}) {
    check_mpi_all_reduce<float>(n, ring_world());
    check_mpi_all_reduce<std::int64_t>(n, ring_world());
  }
}

TEST(MpiRank, TimeoutWhenTheOtherProcessStaysSilent) {
  SKIP_OUTSIDE_MPIRUN();
  mpi_world().barrier();  // both processes are up before the clock starts
  WorldOptions options;
  options.timeout = std::chrono::milliseconds(300);
  World world = World::mpi(options);
  Tensor t = Tensor::ones(Shape{8});
  if (world.rank() == 0) {
    // Rank 1 never joins this broadcast: rank 0 must give up, naming what it waited for.
    try {
      world.broadcast(t, 0);
      FAIL() << "no timeout";
    } catch (const TimeoutError& e) {
      EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
    }
    EXPECT_THROW(world.barrier(), DistributedError);  // broken from then on
  }
  mpi_world().barrier();  // rank 1 waits here, silent on `world`, until rank 0 is done
}

TEST(MpiRank, TimeoutOfAStartedAllReduceWhoseMatchComesLate) {
  SKIP_OUTSIDE_MPIRUN();
  mpi_world().barrier();
  WorldOptions options;
  options.timeout = std::chrono::milliseconds(300);
  World world = World::mpi(options);
  Tensor t = rank_input<float>(world.rank(), 1000);
  if (world.rank() == 0) {
    // Rank 1 starts its matching all-reduce only after rank 0 gave up on it.
    auto pending = world.start_all_reduce(t, Reduction::Sum);
    try {
      pending->wait();
      FAIL() << "no timeout";
    } catch (const TimeoutError& e) {
      EXPECT_NE(std::string(e.what()).find("all_reduce"), std::string::npos) << e.what();
    }
    EXPECT_THROW(world.barrier(), DistributedError);  // broken from then on
    mpi_world().barrier();
  } else {
    mpi_world().barrier();
    world.start_all_reduce(t, Reduction::Sum)->wait();  // lets rank 0's call return at last
    EXPECT_EQ(t.to_vector<float>(), naive_reduce<float>(2, 1000, Reduction::Sum));
  }
  mpi_world().barrier();
}

TEST(MpiRank, CollectiveHeartbeatsFreeTheirCommunicatorOnlyOnceEveryPeerSaidGoodbye) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  world.barrier();
  {
    // Both ranks part: each hears the other's goodbye, so both may free the communicator.
    detail::MpiHeartbeat heartbeat(MPI_COMM_WORLD, std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // beats in flight both ways
    EXPECT_TRUE(heartbeat.stop(std::chrono::seconds(10)));
    EXPECT_TRUE(heartbeat.stop(std::chrono::seconds(10)));  // the first answer stays
  }
  {
    // Rank 0 goes first without waiting: rank 1 has not said goodbye, so rank 0 keeps the
    // communicator; rank 1, stopping later, still hears rank 0's goodbye.
    detail::MpiHeartbeat heartbeat(MPI_COMM_WORLD, std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    if (world.rank() == 0) {
      EXPECT_FALSE(heartbeat.stop(std::chrono::milliseconds(0)));
    }
    world.barrier();
    if (world.rank() == 1) {
      EXPECT_TRUE(heartbeat.stop(std::chrono::seconds(10)));
    }
  }
  {
    // A peer that never says goodbye within the wait: kept, and the wait is bounded.
    detail::MpiHeartbeat heartbeat(MPI_COMM_WORLD, std::chrono::milliseconds(20));
    if (world.rank() == 0) {
      const auto start = std::chrono::steady_clock::now();
      EXPECT_FALSE(heartbeat.stop(std::chrono::milliseconds(200)));
      EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    }
    world.barrier();
  }
  world.barrier();
}

TEST(MpiRank, CollectiveWorldsThatComeAndGoOneAfterAnotherKeepWorking) {
  SKIP_OUTSIDE_MPIRUN();
  // Short timeouts beat often, and the ranks let their worlds go at different moments: beats
  // are still on their way when a world goes, and the next worlds' communicators reuse ids.
  for (int round = 0; round < 12; ++round) {
    mpi_world().barrier();
    WorldOptions options;
    options.timeout = std::chrono::milliseconds(300 + 100 * (round % 3));
    World world = World::mpi(options);
    Tensor t = rank_input<float>(world.rank(), 500 + round);
    world.all_reduce(t, Reduction::Sum);
    EXPECT_EQ(t.to_vector<float>(), naive_reduce<float>(2, 500 + round, Reduction::Sum)) << "round " << round;
    if (world.rank() == round % 2) std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  mpi_world().barrier();
}

TEST(MpiRank, CollectiveStartedAllReducesKeepTheirOrderBesideOtherCollectives) {
  SKIP_OUTSIDE_MPIRUN();
  World& world = mpi_world();
  // Started all-reduces run on the transport's own thread; a collective issued before waiting
  // for them must still meet its match on the other rank, not one of theirs.
  for (int round = 0; round < 20; ++round) {
    std::vector<Tensor> inputs;
    std::vector<std::unique_ptr<PendingCollective>> started;
    for (int k = 0; k < 4; ++k) {
      inputs.push_back(rank_input<float>(world.rank() + k, 3000 + 1000 * k));
      started.push_back(world.start_all_reduce(inputs.back(), Reduction::Sum));
    }
    Tensor broadcast = rank_input<double>(world.rank(), 10);
    world.broadcast(broadcast, round % 2);
    EXPECT_EQ(broadcast.to_vector<double>(), rank_input<double>(round % 2, 10).to_vector<double>());
    for (int k = 0; k < 4; ++k) {
      started[static_cast<std::size_t>(k)]->wait();
      std::vector<float> expected = rank_input<float>(k, 3000 + 1000 * k).to_vector<float>();
      const std::vector<float> other = rank_input<float>(1 + k, 3000 + 1000 * k).to_vector<float>();
      for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += other[i];
      ASSERT_EQ(inputs[static_cast<std::size_t>(k)].to_vector<float>(), expected) << "round " << round << " k " << k;
    }
  }
}

}  // namespace
}  // namespace dm::dist
