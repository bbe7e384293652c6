// The model layers' CUDA kernels on a real device, for what the conformance program's
// tolerances cannot see: the gather backwards (embedding, pooling) give the CPU's bits, and
// every layer's gradients are the same bits on every run (no float atomics anywhere). Each
// test skips, naming the reason, where no CUDA device is usable.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "democratising/core/random.hpp"
#include "democratising/core/tensor.hpp"
#include "democratising/nn/attention.hpp"
#include "democratising/nn/conv.hpp"
#include "democratising/nn/normalization.hpp"

namespace {

using namespace dm;

std::string no_gpu_reason() {
  std::string reason;
  return backend::device_count(DeviceKind::cuda, &reason) > 0 ? std::string() : reason;
}

const Device kGpu{DeviceKind::cuda, 0};

Tensor leaf(const Tensor& t, Device d) { return t.to(d).detach().set_requires_grad(); }

bool same_bits(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to(Device::cpu()).to_vector<float>(), y = b.to(Device::cpu()).to_vector<float>();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// The gradients of `layer`'s inputs on `d` for a fixed upstream gradient.
std::vector<Tensor> gradients(const std::vector<Tensor>& inputs, Device d,
                              const std::function<Tensor(const std::vector<Tensor>&)>& layer) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(leaf(t, d));
  const Tensor y = layer(leaves);
  manual_seed(77);
  y.backward(Tensor::randn(y.shape()).to(d));
  std::vector<Tensor> grads;
  for (const Tensor& t : leaves) grads.push_back(t.grad());
  return grads;
}

TEST(CudaLayers, GatherBackwardsGiveTheCpuBits) {
  const std::string why = no_gpu_reason();
  if (!why.empty()) GTEST_SKIP() << "no CUDA device: " << why;
  manual_seed(3);
  // Many positions per row, so a row's order of addition matters.
  std::vector<std::int64_t> idx(5000);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>((i * 7 + i / 3) % 9);
  const Tensor weight = Tensor::randn({9, 33});
  const auto embed = [&](Device d) {
    return gradients({weight}, d, [&](const std::vector<Tensor>& in) {
      return nn::embedding(Tensor::from_vector(idx, Shape{50, 100}).to(d), in[0]);
    });
  };
  EXPECT_TRUE(same_bits(embed(kGpu)[0], embed(Device::cpu())[0])) << "embedding";

  const Tensor x = Tensor::randn({2, 3, 13, 11});
  const std::vector<std::function<Tensor(const std::vector<Tensor>&)>> pools = {
      [](const std::vector<Tensor>& in) { return nn::max_pool2d(in[0], 3, nn::Size2(1), 1); },
      [](const std::vector<Tensor>& in) { return nn::max_pool2d(in[0], 2, nn::Size2(1), 0, 2); },
      [](const std::vector<Tensor>& in) { return nn::avg_pool2d(in[0], 3, nn::Size2(2), 1, false); },
      [](const std::vector<Tensor>& in) { return nn::adaptive_avg_pool2d(in[0], {5, 4}); },
  };
  for (std::size_t i = 0; i < pools.size(); ++i)
    EXPECT_TRUE(same_bits(gradients({x}, kGpu, pools[i])[0], gradients({x}, Device::cpu(), pools[i])[0]))
        << "pool " << i;
}

TEST(CudaLayers, GradientsAreTheSameBitsOnEveryRun) {
  const std::string why = no_gpu_reason();
  if (!why.empty()) GTEST_SKIP() << "no CUDA device: " << why;
  manual_seed(5);
  const Tensor x = Tensor::randn({8, 4, 15, 14}), w = Tensor::randn({6, 2, 3, 3}), b = Tensor::randn({6});
  const Tensor scale = Tensor::randn({6}), shift = Tensor::randn({6});
  const Tensor q = Tensor::randn({2, 3, 40, 8}), k = Tensor::randn({2, 3, 37, 8}), v = Tensor::randn({2, 3, 37, 5});
  const auto conv_norm = [](const std::vector<Tensor>& in) {
    const Tensor y = nn::conv2d(in[0], in[1], in[2], 2, 1, 2, 2);
    const Tensor mean = Tensor::zeros({6}).to(y.device()), var = Tensor::ones({6}).to(y.device());
    return nn::group_norm(nn::batch_norm(y, mean, var, in[3], in[4], true), 3, in[3], in[4]);
  };
  const auto attention = [](const std::vector<Tensor>& in) {
    return nn::scaled_dot_product_attention(in[0], in[1], in[2], true);
  };
  const std::vector<Tensor> first = gradients({x, w, b, scale, shift}, kGpu, conv_norm);
  const std::vector<Tensor> again = gradients({x, w, b, scale, shift}, kGpu, conv_norm);
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(same_bits(first[i], again[i])) << "conv+norm " << i;
  const std::vector<Tensor> a1 = gradients({q, k, v}, kGpu, attention), a2 = gradients({q, k, v}, kGpu, attention);
  for (std::size_t i = 0; i < a1.size(); ++i) EXPECT_TRUE(same_bits(a1[i], a2[i])) << "attention " << i;
}

}  // namespace
