// Batch norm with statistics shared through a BatchStatisticsReducer: one participant gives the
// plain op's bits; shards on several threads give the whole batch's output and gradients (the
// plain op on the concatenated batch is the reference, itself checked against PyTorch in
// test_norm_torch.cpp); evaluation mode exchanges nothing; bad totals and replies are errors.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/nn/batch_statistics.hpp"
#include "democratising/nn/normalization.hpp"
#include "support/within_deadline.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;
namespace nn = dm::nn;

// The only participant: hands back its own buffer, and counts the calls.
class Alone : public nn::BatchStatisticsReducer {
 public:
  Tensor all_gather(const Tensor& local) override {
    ++calls;
    return local.clone().reshape(Shape{1, local.numel()});
  }
  int calls = 0;
};

// `n` participants on `n` threads, meeting at a barrier: each call stacks every thread's buffer.
class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : slots_(static_cast<std::size_t>(n)), barrier_(n) {}

  class Member : public nn::BatchStatisticsReducer {
   public:
    Member(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}
    Tensor all_gather(const Tensor& local) override {
      group_.slots_[static_cast<std::size_t>(rank_)] = local.clone();
      group_.barrier_.arrive_and_wait();
      const std::int64_t n = static_cast<std::int64_t>(group_.slots_.size());
      Tensor all = Tensor::empty(Shape{n, local.numel()}, DType::f64);
      for (std::int64_t r = 0; r < n; ++r) all.select(0, r).copy_(group_.slots_[static_cast<std::size_t>(r)]);
      group_.barrier_.arrive_and_wait();  // nobody overwrites a slot another is still reading
      return all;
    }

   private:
    ThreadGroup& group_;
    int rank_;
  };

 private:
  std::vector<Tensor> slots_;
  std::barrier<> barrier_;
};

struct Outcome {
  Tensor y, dx, dw, db, running_mean, running_var;
};

// Training batch_norm of x with a running update, then the gradients of sum(y * r).
Outcome run_batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r) {
  Outcome o;
  const DType dtype = x.dtype();
  o.running_mean = Tensor::full({x.size(1)}, 0.3, dtype);
  o.running_var = Tensor::full({x.size(1)}, 1.7, dtype);
  const Tensor xg = x.detach().set_requires_grad(), wg = w.detach().set_requires_grad(),
               bg = b.detach().set_requires_grad();
  o.y = nn::batch_norm(xg, o.running_mean, o.running_var, wg, bg, true, 0.1, 1e-5);
  const std::vector<Tensor> g = dm::autograd::grad((o.y * r).sum(), {xg, wg, bg});
  o.dx = g[0];
  o.dw = g[1];
  o.db = g[2];
  o.y = o.y.detach();
  return o;
}

void expect_bitwise(const Tensor& a, const Tensor& b, const char* what) {
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>()) << what;
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (std::size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], tol * (1.0 + std::abs(w[i]))) << what << " [" << i << "]";
}

TEST(BatchStatistics, OneParticipantGivesThePlainOpsBits) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dm::dtype_name(dtype));
    dm::manual_seed(3);
    const Tensor x = (Tensor::randn({6, 4, 5}) * 2.0 + 0.5).to(dtype);
    const Tensor w = Tensor::randn({4}).to(dtype), b = Tensor::randn({4}).to(dtype);
    const Tensor r = Tensor::randn({6, 4, 5}).to(dtype);
    const Outcome plain = run_batch_norm(x, w, b, r);
    auto alone = std::make_shared<Alone>();
    Outcome shared;
    {
      const nn::BatchStatisticsScope scope(alone);
      shared = run_batch_norm(x, w, b, r);
    }
    EXPECT_EQ(alone->calls, 2);  // one exchange forward, one backward
    expect_bitwise(shared.y, plain.y, "y");
    expect_bitwise(shared.dx, plain.dx, "dx");
    expect_bitwise(shared.dw, plain.dw, "dw");
    expect_bitwise(shared.db, plain.db, "db");
    expect_bitwise(shared.running_mean, plain.running_mean, "running_mean");
    expect_bitwise(shared.running_var, plain.running_var, "running_var");
  }
}

// Shards of rows [0, 3), [3, 3) (none) and [3, 10) on three threads against the whole batch.
TEST(BatchStatistics, ShardsOnThreadsGiveTheWholeBatchsOutputAndGradients) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dm::dtype_name(dtype));
    dm::manual_seed(4);
    const Tensor x = (Tensor::randn({10, 3, 2, 2}) * 1.5 - 0.7).to(dtype);
    const Tensor w = Tensor::randn({3}).to(dtype), b = Tensor::randn({3}).to(dtype);
    const Tensor r = Tensor::randn({10, 3, 2, 2}).to(dtype);
    const Outcome whole = run_batch_norm(x, w, b, r);
    const std::vector<std::int64_t> bounds{0, 3, 3, 10};
    std::vector<Outcome> parts(3);
    const auto finished = dm::testing::outcome_within(60.0, [&] {
      ThreadGroup group(3);
      std::vector<std::thread> threads;
      for (int p = 0; p < 3; ++p)
        threads.emplace_back([&, p] {
          const std::int64_t begin = bounds[static_cast<std::size_t>(p)], end = bounds[static_cast<std::size_t>(p + 1)];
          const nn::BatchStatisticsScope scope(std::make_shared<ThreadGroup::Member>(group, p));
          parts[static_cast<std::size_t>(p)] =
              run_batch_norm(x.narrow(0, begin, end - begin), w, b, r.narrow(0, begin, end - begin));
        });
      for (std::thread& t : threads) t.join();
      return std::string("done");
    });
    ASSERT_TRUE(finished.has_value()) << "the shards never finished";
    // The statistics combine per-shard moments (Chan et al.) instead of one pass over the
    // batch, and dx uses sums added per shard: equal up to f64 rounding, then one rounding to
    // the dtype; f32 results are compared within a few of its ulps.
    const double tol = dtype == DType::f64 ? 1e-12 : 4e-7;
    for (int p = 0; p < 3; ++p) {
      const std::int64_t begin = bounds[static_cast<std::size_t>(p)], end = bounds[static_cast<std::size_t>(p + 1)];
      const Outcome& o = parts[static_cast<std::size_t>(p)];
      const std::string at = "shard " + std::to_string(p);
      expect_close(o.y, whole.y.narrow(0, begin, end - begin), tol, at + " y");
      expect_close(o.dx, whole.dx.narrow(0, begin, end - begin), tol, at + " dx");
      // Every shard's running statistics moved by the whole batch's, to the same bits.
      expect_close(o.running_mean, whole.running_mean, tol, at + " running_mean");
      expect_close(o.running_var, whole.running_var, tol, at + " running_var");
      expect_bitwise(o.running_mean, parts[0].running_mean, "running_mean equal on every shard");
      expect_bitwise(o.running_var, parts[0].running_var, "running_var equal on every shard");
    }
    // dw and db are each shard's own share: a trainer adds them up.
    expect_close(parts[0].dw + parts[1].dw + parts[2].dw, whole.dw, tol, "dw summed");
    expect_close(parts[0].db + parts[1].db + parts[2].db, whole.db, tol, "db summed");
  }
}

TEST(BatchStatistics, EvaluationModeExchangesNothing) {
  dm::manual_seed(5);
  nn::BatchNorm1d layer(4);
  const Tensor x = Tensor::randn({8, 4});
  auto alone = std::make_shared<Alone>();
  const nn::BatchStatisticsScope scope(alone);
  layer.eval();
  const Tensor y = layer.forward(x);
  EXPECT_EQ(alone->calls, 0);
  // With the starting running statistics (0, 1): y = x / sqrt(1 + eps).
  expect_close(y, x / std::sqrt(1.0 + 1e-5), 1e-6, "eval y");
  layer.train();
  (void)layer.forward(x);
  EXPECT_EQ(alone->calls, 1);
}

TEST(BatchStatistics, TheScopeIsTheThreadsAndEndsWithIt) {
  auto alone = std::make_shared<Alone>();
  const Tensor x = Tensor::randn({4, 2});
  {
    const nn::BatchStatisticsScope scope(alone);
    EXPECT_EQ(nn::batch_statistics_reducer(), alone);
    std::thread([&] { (void)nn::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true); }).join();
    EXPECT_EQ(alone->calls, 0);
  }
  EXPECT_EQ(nn::batch_statistics_reducer(), nullptr);
  (void)nn::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  EXPECT_EQ(alone->calls, 0);
}

// One value per channel over all participants cannot be normalised; a shard of one row can.
TEST(BatchStatistics, TheTotalCountDecidesWhatCanBeNormalised) {
  auto alone = std::make_shared<Alone>();
  const nn::BatchStatisticsScope scope(alone);
  try {
    (void)nn::batch_norm(Tensor::randn({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true);
    FAIL() << "no error for one value per channel";
  } catch (const dm::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("more than 1 value per channel"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(1, 3)"), std::string::npos) << e.what();
  }
}

class WrongReply : public nn::BatchStatisticsReducer {
 public:
  Tensor all_gather(const Tensor& local) override { return Tensor::zeros(Shape{1, local.numel() + 1}, DType::f64); }
};

TEST(BatchStatistics, AReducerThatAnswersTheWrongShapeIsAValueError) {
  const nn::BatchStatisticsScope scope(std::make_shared<WrongReply>());
  try {
    (void)nn::batch_norm(Tensor::randn({4, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true);
    FAIL() << "no error";
  } catch (const dm::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[batch_norm] the batch statistics reducer returned (1, 8)"), std::string::npos)
        << e.what();
  }
}

}  // namespace
