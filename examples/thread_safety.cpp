// Guide: "Thread Safety". Tensor handles are thread-safe to share; mutation goes through a guard.
#include <iostream>
#include <thread>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

int main(int argc, char** argv) {
  const int threads = example::small_run(argc, argv) ? 4 : 8;
  const dm::Tensor tensor = dm::Tensor::ones({256});

  // [docs:thread-safety-types]
  // Thread-safe reference counting: a Tensor is a shared handle; copies share the data.
  dm::Tensor shared = tensor;

  // Thread-safe mutation: wrap what threads change in a Mutex (or an RwLock).
  dm::Mutex<dm::Tensor> mutex(dm::Tensor::zeros({256}));
  // [/docs:thread-safety-types]

  dm::RwLock<dm::Tensor> parameters(shared.clone());
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, shared] {
      // [docs:thread-safety-read]
      // Good: use proper synchronisation.
      auto params = parameters.read();
      // [/docs:thread-safety-read]
      auto total = mutex.lock();
      total->add_(*params + shared);
    });
  }
  for (auto& t : pool) t.join();
  const float v = mutex.lock()->max().item<float>();
  example::check(v == 2.0f * static_cast<float>(threads), "each thread added 2");
  std::cout << threads << " threads accumulated " << v << " per element\n";
  return 0;
}
