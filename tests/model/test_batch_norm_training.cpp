// Models with batch norm: DataParallel gives them each batch whole, so its steps are bitwise
// Model::train_step's for any thread count; a checkpoint carries the running statistics and a
// checkpoint without them is refused by name; the optimizer never touches them.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/model/data_parallel.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/normalization.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/runtime/pool.hpp"
#include "model_test_util.hpp"

namespace {

constexpr std::int64_t kDims = 6, kClasses = 3, kBatch = 20;

dm::Model make_model(std::uint64_t seed, dm::DType dtype = dm::DType::f32) {
  dm::manual_seed(seed);
  dm::nn::Sequential layers;
  layers.add(dm::nn::Dense(kDims, 8, true, dtype))
      .add(dm::nn::BatchNorm1d(8, 1e-5, 0.1, dtype))
      .add(dm::nn::ReLU())
      .add(dm::nn::Dense(8, kClasses, true, dtype));
  return std::move(layers).build(
      {.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.1, .momentum = 0.9})});
}

bool same_bits(const dm::Tensor& a, const dm::Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const dm::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<std::size_t>(a.numel()) * dm::itemsize(a.dtype())) == 0;
}

void expect_same_state(const dm::Model& got, const dm::Model& want, const std::string& what) {
  EXPECT_TRUE(same_bits(got.module().flat_parameters(), want.module().flat_parameters())) << what << ": parameters";
  const dm::nn::NamedTensors gb = got.module().named_buffers(), wb = want.module().named_buffers();
  ASSERT_EQ(gb.size(), wb.size());
  for (std::size_t i = 0; i < gb.size(); ++i)
    EXPECT_TRUE(same_bits(gb[i].second, wb[i].second)) << what << ": buffer " << gb[i].first;
}

class PoolSize {
 public:
  explicit PoolSize(int n) : saved_(dm::num_threads()) { dm::set_num_threads(n); }
  ~PoolSize() { dm::set_num_threads(saved_); }
  PoolSize(const PoolSize&) = delete;
  PoolSize& operator=(const PoolSize&) = delete;

 private:
  int saved_;
};

TEST(BatchNormTraining, DataParallelStepsAreModelStepsBitwiseForAnyThreadCount) {
  const model_test::Problem data = model_test::blobs(3 * kBatch, kDims, kClasses, 11);
  for (dm::DType dtype : {dm::DType::f32, dm::DType::f64}) {
    dm::Model single = make_model(5, dtype);
    std::vector<double> losses;
    for (std::int64_t s = 0; s < 3; ++s)
      losses.push_back(single.train_step(data.x.narrow(0, s * kBatch, kBatch).to(dtype),
                                         data.y.narrow(0, s * kBatch, kBatch)).item<double>());
    for (int threads : {1, 2}) {
      PoolSize pool(threads);
      dm::Model model = make_model(5, dtype);
      dm::DataParallel trainer(model, {.shard_size = 4});  // would be 5 shards without batch norm
      EXPECT_EQ(trainer.shard_count(kBatch), 1);
      for (std::int64_t s = 0; s < 3; ++s) {
        const double loss = trainer.train_step(data.x.narrow(0, s * kBatch, kBatch).to(dtype),
                                               data.y.narrow(0, s * kBatch, kBatch)).item<double>();
        EXPECT_EQ(loss, losses[static_cast<std::size_t>(s)]) << "step " << s << ", " << threads << " threads";
      }
      expect_same_state(model, single, std::string(dm::dtype_name(dtype)) + ", " + std::to_string(threads) + " threads");
    }
  }
}

TEST(BatchNormTraining, OnlyModelsWithBatchStatisticsRunWhole) {
  dm::Model plain = [] {
    dm::nn::Sequential layers;
    layers.add(dm::nn::Dense(kDims, 8)).add(dm::nn::GroupNorm(2, 8)).add(dm::nn::Dense(8, kClasses));
    return std::move(layers).build();
  }();
  EXPECT_FALSE(plain.module().uses_batch_statistics());
  EXPECT_EQ(dm::DataParallel(plain, {.shard_size = 4}).shard_count(kBatch), 5);
}

TEST(BatchNormTraining, OptimizerNeverTouchesTheBuffers) {
  dm::Model model = make_model(3);
  EXPECT_EQ(model.parameter_layout()->size(), 6u);  // weights and biases only
  EXPECT_EQ(model.module().flat_parameters().numel(), model.module().num_parameters());
  const model_test::Problem data = model_test::blobs(kBatch, kDims, kClasses, 12);
  dm::nn::NamedTensors before;
  {
    dm::nn::EvalModeGuard eval;  // evaluation: the running statistics stay as they are
    model.predict(data.x);
    before = model.module().named_buffers();
    const dm::Tensor params_before = model.module().flat_parameters().clone();
    model.apply_gradients(model.compute_gradients(data.x, data.y));
    EXPECT_FALSE(same_bits(model.module().flat_parameters(), params_before)) << "the step changed nothing";
  }
  const dm::nn::NamedTensors after = model.module().named_buffers();
  for (std::size_t i = 0; i < after.size(); ++i)
    EXPECT_TRUE(same_bits(after[i].second, before[i].second)) << after[i].first << " changed by an optimizer step";
}

TEST(BatchNormTraining, CheckpointRestoresRunningStatistics) {
  model_test::TempDir dir;
  const model_test::Problem data = model_test::blobs(2 * kBatch, kDims, kClasses, 13);
  dm::Model trained = make_model(21);
  trained.train_step(data.x.narrow(0, 0, kBatch), data.y.narrow(0, 0, kBatch));
  trained.train_step(data.x.narrow(0, kBatch, kBatch), data.y.narrow(0, kBatch, kBatch));
  const std::string path = dir.file("bn.safetensors");
  trained.save_checkpoint(path);

  dm::Model restored = make_model(22);
  restored.load_checkpoint(path);
  expect_same_state(restored, trained, "restored");
  EXPECT_EQ(restored.module().named_buffers()[2].second.item<std::int64_t>(), 2);
  EXPECT_TRUE(same_bits(restored.predict(data.x), trained.predict(data.x)));
}

TEST(BatchNormTraining, CheckpointWithoutABufferIsRefusedByName) {
  model_test::TempDir dir;
  dm::Model model = make_model(23);
  const std::string path = dir.file("bn.safetensors"), stripped = dir.file("stripped.safetensors");
  model.save_checkpoint(path);
  dm::io::SafetensorsContents contents = dm::io::load_safetensors_contents(path);
  dm::io::NamedTensors kept;
  for (auto& [name, t] : contents.tensors)
    if (name != "buffer.1.running_var") kept.emplace_back(name, t);
  ASSERT_EQ(kept.size() + 1, contents.tensors.size());
  dm::io::save_safetensors(stripped, kept, contents.metadata);
  dm::Model other = make_model(24);
  try {
    other.load_checkpoint(stripped);
    ADD_FAILURE() << "a checkpoint without running_var loaded";
  } catch (const dm::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("buffer '1.running_var' is missing"), std::string::npos) << e.what();
  }
  // Refused before anything changed.
  dm::Model fresh = make_model(24);
  expect_same_state(other, fresh, "after the refused load");
}

}  // namespace
