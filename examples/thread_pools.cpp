// Guide: "Thread Pools". par_map runs on the one process-wide pool.
#include <iostream>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

// [docs:thread-pools]
std::vector<dm::Tensor> parallel_process(const std::vector<dm::Tensor>& tensors) {
  // Process tensors in parallel.
  return dm::par_map(tensors, [](const dm::Tensor& t) { return t.pow(2.0); });
}
// [/docs:thread-pools]

int main(int argc, char** argv) {
  const int count = example::small_run(argc, argv) ? 16 : 256;
  std::vector<dm::Tensor> tensors;
  for (int i = 0; i < count; ++i) tensors.push_back(dm::Tensor::full({64, 64}, static_cast<double>(i)));
  const std::vector<dm::Tensor> squares = parallel_process(tensors);
  for (int i = 0; i < count; ++i)
    example::check(squares[static_cast<std::size_t>(i)].max().item<float>() == static_cast<float>(i * i), "square of i");
  std::cout << "squared " << squares.size() << " tensors on " << dm::num_threads() << " threads\n";
  return 0;
}
