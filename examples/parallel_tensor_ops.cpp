// Guide: "Parallel Tensor Operations". matmul and elementwise ops use the pool by themselves.
#include <iostream>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

// [docs:parallel-tensor-ops]
dm::Tensor parallel_matrix_multiply(const dm::Tensor& a, const dm::Tensor& b) {
  // Automatically parallelised across CPU cores.
  return a.matmul(b);
}

dm::Tensor parallel_element_wise(const dm::Tensor& a, const dm::Tensor& b) {
  // Parallel element-wise operations.
  return (a + b).relu();
}
// [/docs:parallel-tensor-ops]

int main(int argc, char** argv) {
  const std::int64_t n = example::small_run(argc, argv) ? 128 : 1024;
  dm::manual_seed(1);
  const dm::Tensor a = dm::Tensor::randn({n, n});
  const dm::Tensor b = dm::Tensor::randn({n, n});
  const dm::Tensor c = parallel_matrix_multiply(a, b);
  const dm::Tensor d = parallel_element_wise(a, b);

  // Spot-check one entry of each against a plain loop.
  double expected = 0.0;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  for (std::int64_t k = 0; k < n; ++k) expected += static_cast<double>(pa[3 * n + k]) * pb[k * n + 5];
  const double got = c.data<float>()[3 * n + 5];
  example::check(std::abs(got - expected) < 1e-3 * (1.0 + std::abs(expected)), "matmul entry");
  example::check(d.min().item<float>() >= 0.0f, "relu is non-negative");
  std::cout << "c = a @ b: " << c.shape() << ", relu(a + b): " << d.shape() << '\n';
  return 0;
}
