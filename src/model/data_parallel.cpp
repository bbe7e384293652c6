// Synchronous data parallelism: shard gradients on the pool, a reduction in shard order, one
// optimizer step. Nothing here depends on the pool size, so neither does the result.
#include "democratising/model/data_parallel.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "democratising/runtime/isolated.hpp"
#include "democratising/base/checked.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "model/gradient_step.hpp"

namespace dm {
namespace {

struct ShardResult {
  Gradients grads;
  Tensor loss;
};

}  // namespace

DataParallel::DataParallel(Model& model, DataParallelOptions options) : model_(&model), options_(options) {
  if (options_.shard_size < 1)
    throw ValueError("[DataParallel] shard_size must be at least 1, got " + std::to_string(options_.shard_size));
}

std::int64_t DataParallel::shard_size(std::int64_t batch) const {
  // Batch statistics over a shard would differ from those over the batch: such a model gets
  // the whole batch as one shard, and the ops inside it spread over the pool by themselves.
  return model_->module().uses_batch_statistics() ? std::max<std::int64_t>(batch, 1) : options_.shard_size;
}

std::int64_t DataParallel::shard_count(std::int64_t batch) const {
  return batch <= 0 ? 0 : ceil_div(batch, shard_size(batch));
}

Gradients DataParallel::compute_gradients(const Tensor& x, const Tensor& y, Tensor* loss) const {
  if (!x.defined() || !y.defined() || x.dim() == 0 || y.dim() == 0)
    throw ShapeError("[DataParallel] inputs and targets need a batch dimension");
  const std::int64_t batch = x.size(0);
  if (batch < 1 || y.size(0) != batch)
    throw ShapeError("[DataParallel] inputs " + x.shape().str() + " and targets " + y.shape().str() +
                     " need the same non-empty batch dimension");

  const std::int64_t shards = shard_count(batch);
  std::vector<std::int64_t> shard_ids(static_cast<std::size_t>(shards));
  for (std::int64_t k = 0; k < shards; ++k) shard_ids[static_cast<std::size_t>(k)] = k;
  const std::int64_t size = shard_size(batch);
  const Model& model = *model_;
  // Each shard draws (dropout masks) from a stream of its own, derived from the global
  // generator and the shard's index, so the masks do not depend on which thread runs which
  // shard; the global generator moves on by one counter per step.
  const GeneratorState step = advance_generator(1);
  std::vector<ShardResult> results = par_map(shard_ids, [&](std::int64_t k) {
    const std::int64_t start = k * size;
    const std::int64_t n = std::min(size, batch - start);
    ThreadGeneratorScope stream({derive_seed(step, static_cast<std::uint64_t>(k)), 0});
    ShardResult r;
    // Isolated: a worker waiting inside this shard's matmuls must not start another shard and
    // take the read lock a second time (a waiting writer would then block both).
    detail::isolated([&] { r.grads = model.compute_gradients(x.narrow(0, start, n), y.narrow(0, start, n), &r.loss); });
    return r;
  });

  // Weights n_k / n, so the weighted sum of per-shard mean gradients is the full-batch mean.
  std::vector<double> weights(static_cast<std::size_t>(shards));
  std::vector<const std::byte*> sources(static_cast<std::size_t>(shards));
  double loss_sum = 0.0;
  for (std::int64_t k = 0; k < shards; ++k) {
    const auto i = static_cast<std::size_t>(k);
    weights[i] = detail::shard_weight(std::min(size, batch - k * size), batch, results[i].grads.flat.dtype());
    sources[i] = static_cast<const std::byte*>(results[i].grads.flat.data_ptr());
    loss_sum += weights[i] * results[i].loss.item<double>();
  }

  // Shard 0's buffer (its views by name included) receives the sum, so apply_gradients and
  // the optimizers see an ordinary Gradients; each element is read before it is overwritten.
  Gradients out = std::move(results.front().grads);
  if (loss) *loss = Tensor::scalar(loss_sum, results.front().loss.dtype());
  if (shards == 1) return out;  // weight 1: the shard's mean is the batch's, no pass needed
  backend::backend_for(out.flat.device())
      .weighted_sum(out.flat.dtype(), static_cast<std::byte*>(out.flat.data_ptr()), sources, weights, out.flat.numel());
  return out;
}

Tensor DataParallel::train_step(const Tensor& x, const Tensor& y) {
  Tensor loss;
  const Gradients grads = compute_gradients(x, y, &loss);
  if (!detail::admit_step(loss, {grads.flat}, options_.non_finite, "DataParallel")) {
    ++skipped_steps_;
    return loss;
  }
  model_->apply_gradients(grads);
  return loss;
}

}  // namespace dm
