// Guide: "Barriers and Conditions". SyncPoint = a barrier for the workers plus a ready flag
// that other threads can wait on.
#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

int main(int argc, char** argv) {
  const int workers = example::small_run(argc, argv) ? 4 : 8;
  std::atomic<int> prepared{0};
  // [docs:barriers-conditions]
  dm::SyncPoint sync(workers);

  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&] {
      prepared++;   // ... each worker prepares its shard ...
      sync.wait();  // wait for all workers; then the ready flag is raised
    });
  }
  sync.wait_ready();  // a coordinator thread waits for the rendezvous
  // [/docs:barriers-conditions]
  example::check(prepared.load() == workers, "every worker arrived before ready");
  for (auto& t : threads) t.join();
  std::cout << workers << " workers met; ready = " << std::boolalpha << sync.is_ready() << '\n';
  return 0;
}
