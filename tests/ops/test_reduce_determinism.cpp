// Every reduction gives bitwise identical results with 1, 2 and 3 pool threads: the
// summation order depends only on the data size. Shapes cover a full reduction of more than
// 1M elements, a long reduced dim, a long outer dim and a long column.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "democratising/democratising.hpp"

using dm::DType;
using dm::Shape;
using dm::Tensor;

namespace {

// Restores the pool size when the test ends, also on failure.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(dm::num_threads()) {}
  ~ThreadCountGuard() { dm::set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

std::vector<unsigned char> bytes_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  const auto n = static_cast<std::size_t>(c.numel()) * dm::itemsize(c.dtype());
  std::vector<unsigned char> out(n);
  if (n) std::memcpy(out.data(), c.data_ptr(), n);
  return out;
}

struct Op {
  std::string name;
  std::function<Tensor(const Tensor&)> run;
};

// The reductions over `dim` (or over everything when dim is -99).
std::vector<Op> reductions(std::int64_t dim) {
  const bool all = dim == -99;
  const std::vector<std::int64_t> dims = all ? std::vector<std::int64_t>{} : std::vector<std::int64_t>{dim};
  return {
      {"sum", [=](const Tensor& x) { return all ? x.sum() : x.sum(dims); }},
      {"mean", [=](const Tensor& x) { return all ? x.mean() : x.mean(dims, true); }},
      {"var", [=](const Tensor& x) { return all ? x.var() : x.var(dims); }},
      {"std", [=](const Tensor& x) { return all ? x.std(0) : x.std(dims, 0); }},
      {"max", [=](const Tensor& x) { return all ? x.max() : x.max(dim); }},
      {"min", [=](const Tensor& x) { return all ? x.min() : x.min(dim); }},
      {"argmax", [=](const Tensor& x) { return all ? x.argmax() : x.argmax(dim); }},
      {"argmin", [=](const Tensor& x) { return all ? x.argmin() : x.argmin(dim); }},
      {"softmax", [=](const Tensor& x) { return x.softmax(all ? -1 : dim); }},
      {"log_softmax", [=](const Tensor& x) { return x.log_softmax(all ? -1 : dim); }},
      {"logsumexp", [=](const Tensor& x) { return x.logsumexp(all ? -1 : dim); }},
  };
}

void check_thread_independent(const Tensor& x, std::int64_t dim) {
  ThreadCountGuard guard;
  for (const Op& op : reductions(dim)) {
    SCOPED_TRACE(op.name + " of " + x.shape().str() + " " + std::string(dm::dtype_name(x.dtype())) + " dim " +
                 std::to_string(dim));
    dm::set_num_threads(1);
    const auto one = bytes_of(op.run(x));
    for (int threads : {2, 3}) {
      dm::set_num_threads(threads);
      ASSERT_EQ(bytes_of(op.run(x)), one) << "differs with " << threads << " threads";
    }
  }
}

}  // namespace

TEST(ReduceDeterminism, FullReductionOfMoreThanAMillion) {
  dm::manual_seed(51);
  check_thread_independent(Tensor::randn({(1 << 20) + 12345}), -99);
  check_thread_independent(Tensor::randn({1100, 1000}).t(), -99);  // strided, read in place
}

TEST(ReduceDeterminism, LongReducedDim) {
  dm::manual_seed(52);
  check_thread_independent(Tensor::randn({4, 300000}), 1);
  check_thread_independent(Tensor::randn({4, 300000}, DType::f64), -1);
  check_thread_independent(Tensor::randn({300000, 4}), 0);  // long columns, narrow
}

TEST(ReduceDeterminism, LongOuterDim) {
  dm::manual_seed(53);
  check_thread_independent(Tensor::randn({300000, 5}), 1);
  check_thread_independent(Tensor::randn({600, 2000}), 0);  // wide columns
  check_thread_independent(Tensor::randn({64, 700, 30}), 1);
}

TEST(ReduceDeterminism, IntegerSums) {
  dm::manual_seed(54);
  const Tensor x = Tensor::randint(-100, 100, {1 << 20}, DType::i32);
  ThreadCountGuard guard;
  dm::set_num_threads(1);
  const auto one = bytes_of(x.sum());
  dm::set_num_threads(3);
  EXPECT_EQ(bytes_of(x.sum()), one);
}
