// Guide: "Mutex and RwLock". Parameters behind a reader-writer lock, gradients behind a mutex;
// values are reachable only through a guard.
#include <iostream>
#include <thread>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

dm::Tensor compute_gradients(const dm::Tensor& params) { return params * 2.0; }  // d/dp of p^2

// [docs:mutex-rwlock]
struct SharedModel {
  dm::RwLock<dm::Tensor> parameters;
  dm::Mutex<dm::Tensor> gradients;

  void update() {
    // Read parameters (shared with other readers).
    auto params = parameters.read();

    // Update gradients (exclusive).
    auto grads = gradients.lock();
    *grads = compute_gradients(*params);
  }
};
// [/docs:mutex-rwlock]

int main(int argc, char** argv) {
  const int threads = example::small_run(argc, argv) ? 4 : 16;
  SharedModel model{dm::RwLock<dm::Tensor>(dm::Tensor::full({8}, 3.0)), dm::Mutex<dm::Tensor>(dm::Tensor::zeros({8}))};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back([&] { model.update(); });
  for (auto& w : workers) w.join();
  const float g = model.gradients.lock()->max().item<float>();
  example::check(g == 6.0f, "gradient of p^2 at 3 is 6");
  std::cout << "gradients: " << *model.gradients.lock() << '\n';
  return 0;
}
