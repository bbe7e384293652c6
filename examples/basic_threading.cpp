// Guide: "Basic Threading". A tensor handle moves into a std::thread; the thread sums it.
#include <cmath>
#include <future>
#include <iostream>
#include <thread>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

int main(int argc, char** argv) {
  const std::int64_t n = example::small_run(argc, argv) ? 200 : 1000;
  dm::manual_seed(0);
  // [docs:basic-threading]
  dm::Tensor tensor = dm::Tensor::randn({n, n});

  // Spawn a thread; the handle is copied into it (no data is copied).
  std::promise<dm::Tensor> promise;
  std::future<dm::Tensor> result = promise.get_future();
  std::thread worker([tensor, &promise] { promise.set_value(tensor.sum()); });

  // Wait for the result.
  const float sum = result.get().item<float>();
  worker.join();
  std::cout << "Sum: " << sum << '\n';
  // [/docs:basic-threading]

  // Same answer as summing here, and the sum of n*n standard normals is about n in size.
  example::check(sum == tensor.sum().item<float>(), "thread sum equals local sum");
  example::check(std::abs(sum) < 6.0f * static_cast<float>(n), "sum of normals within 6 sigma");
  return 0;
}
