#include <democratising/democratising.hpp>

#include <iostream>

int main() {
  auto a = dm::Tensor::full({2, 2}, 3.0);
  auto [s, n] = dm::join([&] { return a.sum().item<float>(); }, [] { return dm::num_threads(); });
  std::cout << "sum " << s << " threads " << n << '\n';
  return s == 12.0f && n >= 1 ? 0 : 1;
}
