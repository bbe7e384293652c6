// The in-process transport: every collective against plain loops, on several world sizes, and
// the failures it must report (mismatched calls, silent ranks, unsupported dtypes).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "collective_reference.hpp"
#include "democratising/distributed/world.hpp"
#include "democratising/base/error.hpp"
#include "democratising/model/model.hpp"

namespace dm::dist {
namespace {

using testing::all_reductions;
using testing::naive_reduce;
using testing::rank_input;

template <class T>
void check_all_reduce(int ranks, std::int64_t n) {
  for (Reduction op : all_reductions()) {
    if (op == Reduction::Mean && std::is_integral_v<T>) continue;
    const std::vector<T> expected = naive_reduce<T>(ranks, n, op);
    run_local(ranks, [&](World& world) {
      Tensor t = rank_input<T>(world.rank(), n);
      world.all_reduce(t, op);
      ASSERT_EQ(t.to_vector<T>(), expected) << reduction_name(op) << " n=" << n << " rank " << world.rank();
    });
  }
}

TEST(LocalWorld, AllReduceMatchesNaiveLoopsForEveryReductionAndDtype) {
  for (int ranks : {1, 2, 3, 4}) {
    for (std::int64_t n : {1, 2, 5, 1000, 65537}) {
      check_all_reduce<float>(ranks, n);
      check_all_reduce<double>(ranks, n);
      check_all_reduce<std::int32_t>(ranks, n);
      check_all_reduce<std::int64_t>(ranks, n);
    }
  }
}

TEST(LocalWorld, AllReduceOfAMillionFloats) {
  check_all_reduce<float>(2, 1 << 20);
  check_all_reduce<float>(3, (1 << 20) + 3);
}

TEST(LocalWorld, AllReduceLeavesEveryRankBitwiseEqualForInexactSums) {
  // Values whose sum rounds: each rank must still hold the very same bits.
  run_local(3, [](World& world) {
    Tensor t = Tensor::randn(Shape{4097}).mul(static_cast<double>(world.rank() + 1));
    world.all_reduce(t, Reduction::Mean);
    const Tensor everyone = world.all_gather(t);
    const std::vector<float> all = everyone.to_vector<float>();
    for (int r = 1; r < world.size(); ++r)
      for (std::size_t i = 0; i < 4097; ++i) ASSERT_EQ(all[i], all[static_cast<std::size_t>(r) * 4097 + i]);
  });
}

TEST(LocalWorld, AllReduceOfANonContiguousTensorWritesBackIntoIt) {
  run_local(2, [](World& world) {
    Tensor base = Tensor::arange(12.0).reshape(Shape{3, 4}).add(static_cast<double>(world.rank()));
    Tensor t = base.transpose(0, 1);
    world.all_reduce(t, Reduction::Sum);
    const std::vector<float> v = base.to_vector<float>();
    for (int i = 0; i < 12; ++i) ASSERT_EQ(v[static_cast<std::size_t>(i)], static_cast<float>(2 * i + 1));
  });
}

TEST(LocalWorld, AllReduceOfAListMixesDtypes) {
  run_local(3, [](World& world) {
    std::vector<Tensor> list{rank_input<float>(world.rank(), 10), rank_input<std::int64_t>(world.rank(), 3),
                             rank_input<float>(world.rank(), 7).reshape(Shape{7, 1})};
    world.all_reduce(list, Reduction::Max);
    EXPECT_EQ(list[0].to_vector<float>(), naive_reduce<float>(3, 10, Reduction::Max));
    EXPECT_EQ(list[1].to_vector<std::int64_t>(), naive_reduce<std::int64_t>(3, 3, Reduction::Max));
    EXPECT_EQ(list[2].shape(), Shape({7, 1}));
    EXPECT_EQ(list[2].to_vector<float>(), naive_reduce<float>(3, 7, Reduction::Max));
  });
}

TEST(LocalWorld, AllReduceOfGradientsGoesThroughTheirFlatBuffer) {
  run_local(2, [](World& world) {
    Gradients g;
    g.flat = rank_input<float>(world.rank(), 6);
    g.tensors.emplace_back("w", g.flat.narrow(0, 0, 4).view(Shape{2, 2}));
    g.tensors.emplace_back("b", g.flat.narrow(0, 4, 2));
    world.all_reduce(g, Reduction::Mean);
    const std::vector<float> expected = naive_reduce<float>(2, 6, Reduction::Mean);
    EXPECT_EQ(g.flat.to_vector<float>(), expected);
    EXPECT_EQ(g["b"].to_vector<float>(), std::vector<float>(expected.begin() + 4, expected.end()));
  });
}

TEST(LocalWorld, BroadcastCopiesTheRootsTensorEverywhere) {
  for (int root : {0, 2}) {
    run_local(3, [root](World& world) {
      Tensor t = rank_input<double>(world.rank(), 100);
      world.broadcast(t, root);
      EXPECT_EQ(t.to_vector<double>(), rank_input<double>(root, 100).to_vector<double>());
    });
  }
}

TEST(LocalWorld, AllGatherStacksInRankOrder) {
  run_local(4, [](World& world) {
    const Tensor out = world.all_gather(rank_input<std::int32_t>(world.rank(), 6).reshape(Shape{2, 3}));
    ASSERT_EQ(out.shape(), Shape({4, 2, 3}));
    for (int r = 0; r < 4; ++r)
      EXPECT_EQ(out.select(0, r).reshape(Shape{6}).to_vector<std::int32_t>(), rank_input<std::int32_t>(r, 6).to_vector<std::int32_t>());
  });
}

TEST(LocalWorld, BarrierHoldsEveryRankUntilAllArrive) {
  std::atomic<int> arrived{0};
  run_local(4, [&](World& world) {
    for (int round = 1; round <= 50; ++round) {
      arrived.fetch_add(1);
      world.barrier();
      EXPECT_GE(arrived.load(), round * 4);
      world.barrier();  // nobody starts the next round before all have checked
    }
  });
}

TEST(LocalWorld, ManyCollectivesInARowStayConsistent) {
  run_local(4, [](World& world) {
    for (int i = 0; i < 300; ++i) {
      Tensor t = Tensor::full(Shape{static_cast<std::int64_t>(i % 17 + 1)}, static_cast<double>(world.rank() + i), DType::i64);
      world.all_reduce(t, Reduction::Sum);
      const std::int64_t expected = 4LL * i + 6;
      for (std::int64_t v : t.to_vector<std::int64_t>()) ASSERT_EQ(v, expected);
    }
  });
}

TEST(LocalWorld, MismatchedCountsAreADistributedErrorOnEveryRank) {
  std::atomic<int> errors{0};
  run_local(2, [&](World& world) {
    Tensor t = Tensor::zeros(Shape{world.rank() == 0 ? 10 : 12});
    try {
      world.all_reduce(t);
    } catch (const DistributedError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("[all_reduce]"), std::string::npos) << what;
      EXPECT_NE(what.find("rank 1"), std::string::npos) << what;
      EXPECT_NE(what.find("12"), std::string::npos) << what;
      errors.fetch_add(1);
    }
  });
  EXPECT_EQ(errors.load(), 2);
}

TEST(LocalWorld, MismatchedOperationsAreNamed) {
  std::atomic<int> errors{0};
  run_local(2, [&](World& world) {
    Tensor t = Tensor::zeros(Shape{4});
    try {
      if (world.rank() == 0) world.broadcast(t, 0);
      else world.all_reduce(t);
    } catch (const DistributedError& e) {
      EXPECT_NE(std::string(e.what()).find("broadcast"), std::string::npos) << e.what();
      errors.fetch_add(1);
    }
  });
  EXPECT_EQ(errors.load(), 2);
}

TEST(LocalWorld, ASilentRankIsATimeoutNamingTheOperation) {
  WorldOptions options;
  options.timeout = std::chrono::milliseconds(100);
  std::vector<World> worlds = World::local(2, options);
  Tensor t = Tensor::ones(Shape{3});
  const auto start = std::chrono::steady_clock::now();
  try {
    worlds[0].all_reduce(t);  // rank 1 never comes
    FAIL() << "no timeout";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The world is broken from then on, for the late rank too.
  EXPECT_THROW(worlds[1].barrier(), DistributedError);
}

TEST(LocalWorld, AFailingRankReleasesTheOthers) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(run_local(3,
                         [](World& world) {
                           if (world.rank() == 1) throw ValueError("rank 1 gives up");
                           world.barrier();
                         }),
               ValueError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));  // not the 60 s timeout
}

TEST(LocalWorld, BadArgumentsAreTypedErrors) {
  run_local(2, [](World& world) {
    Tensor bytes = Tensor::zeros(Shape{4}, DType::u8);
    EXPECT_THROW(world.all_reduce(bytes), DTypeError);
    Tensor ints = Tensor::zeros(Shape{4}, DType::i32);
    EXPECT_THROW(world.all_reduce(ints, Reduction::Mean), DTypeError);
    Tensor undefined;
    EXPECT_THROW(world.all_reduce(undefined), ValueError);
    Tensor t = Tensor::zeros(Shape{4});
    EXPECT_THROW(world.broadcast(t, 2), ValueError);
    EXPECT_THROW(world.start_all_reduce(t, Reduction::Mean), ValueError);
  });
  EXPECT_THROW(World::local(0), ValueError);
}

TEST(LocalWorld, StartedAllReducesFinishOnWait) {
  run_local(3, [](World& world) {
    Tensor a = rank_input<float>(world.rank(), 33);
    Tensor b = rank_input<double>(world.rank(), 5);
    auto pa = world.start_all_reduce(a, Reduction::Sum);
    auto pb = world.start_all_reduce(b, Reduction::Min);
    pa->wait();
    pb->wait();
    EXPECT_TRUE(pa->test());
    EXPECT_EQ(a.to_vector<float>(), naive_reduce<float>(3, 33, Reduction::Sum));
    EXPECT_EQ(b.to_vector<double>(), naive_reduce<double>(3, 5, Reduction::Min));
  });
}

}  // namespace
}  // namespace dm::dist
