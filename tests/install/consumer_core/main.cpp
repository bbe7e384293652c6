// Uses every layer of the core part: a tensor op on the pool, a model trained on a data
// loader, and evaluated. The umbrella header must not bring Asio with it.
#include <democratising/democratising.hpp>

#ifdef ASIO_VERSION
#error "democratising/democratising.hpp included Asio: that belongs to democratising/async.hpp"
#endif

#include <iostream>
#include <memory>

int main() {
  dm::manual_seed(0);
  const dm::Tensor x = dm::Tensor::randn({32, 4});
  const dm::Tensor y = x.sum({1}).gt(0.0).to(dm::DType::i64);
  dm::data::DataLoader loader(std::make_shared<dm::data::TensorDataset>(x, y), {.batch_size = 8});
  dm::Model model = dm::nn::Sequential().add(dm::nn::Dense(4, 8)).add(dm::nn::ReLU()).add(dm::nn::Dense(8, 2)).build();
  const double before = model.evaluate(loader).loss;
  for (int epoch = 0; epoch < 20; ++epoch)
    for (const dm::Batch& batch : loader) model.train_step(batch.x, batch.y);
  const dm::EvalResult after = model.evaluate(loader);
  std::cout << "loss " << before << " -> " << after.loss << ", accuracy " << after.accuracy << ", threads "
            << dm::num_threads() << '\n';
  return after.samples == 32 && after.loss < before ? 0 : 1;
}
