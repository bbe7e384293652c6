// Module bookkeeping: dotted names, modes, load_parameter and the flat parameter buffer.
#include <gtest/gtest.h>

#include <thread>

#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

nn::Sequential small_net() { return nn::Sequential().add(nn::Dense(3, 4)).add(nn::ReLU()).add(nn::Dense(4, 2)); }

std::vector<std::string> names_of(const nn::NamedTensors& params) {
  std::vector<std::string> out;
  for (const auto& [name, _] : params) out.push_back(name);
  return out;
}

TEST(Module, DottedNamesInRegistrationOrder) {
  const nn::Sequential net = small_net();
  const auto params = net.named_parameters();
  EXPECT_EQ(names_of(params), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(params[0].second.shape(), Shape({4, 3}));
  EXPECT_EQ(params[3].second.shape(), Shape({2}));
  EXPECT_EQ(net.num_parameters(), 12 + 4 + 8 + 2);
  ASSERT_EQ(net.parameters().size(), 4u);
  EXPECT_TRUE(net.parameters()[2].shares_storage_with(params[2].second));

  nn::Sequential outer;
  outer.add(nn::Dense(2, 3)).add(small_net());
  EXPECT_EQ(names_of(outer.named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.2.weight", "1.2.bias"}));
}

TEST(Module, TrainAndEvalReachChildren) {
  nn::Sequential inner;
  inner.add(nn::Dropout(0.5));
  nn::Sequential net;
  net.add(nn::Dense(2, 2)).add(std::move(inner));
  EXPECT_TRUE(net.is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net[0]->is_training());
  const auto& nested = static_cast<const nn::Sequential&>(*net[1]);
  EXPECT_FALSE(nested[0]->is_training());
  net.train();
  EXPECT_TRUE(nested[0]->is_training());
}

TEST(Module, EvalModeGuardIsPerThread) {
  const nn::Dense layer(2, 2);
  {
    nn::EvalModeGuard eval;
    EXPECT_FALSE(layer.is_training());
    bool other_thread_sees = false;
    std::thread([&] { other_thread_sees = layer.is_training(); }).join();
    EXPECT_TRUE(other_thread_sees);
  }
  EXPECT_TRUE(layer.is_training());
}

TEST(Module, LoadParameterCopiesIntoTheExistingStorage) {
  nn::Sequential net = small_net();
  const Tensor flat = net.flatten_parameters();
  const Tensor value = normal({2, 4}, 1);
  net.load_parameter("2.weight", value);
  const Tensor w = net.named_parameters()[2].second;
  EXPECT_EQ(w.to_vector<float>(), value.to_vector<float>());
  EXPECT_TRUE(w.shares_storage_with(flat));
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  expect_throw_with<dm::ValueError>([&] { net.load_parameter("1.weight", value); }, "'1.weight'");
  expect_throw_with<dm::ShapeError>([&] { net.load_parameter("0.weight", value); }, "'0.weight' has shape (4, 3)");
}

TEST(Module, FlattenKeepsValuesAndMakesViewsOfOneBuffer) {
  nn::Sequential net = small_net();
  const auto before = net.named_parameters();
  std::vector<std::vector<float>> values;
  for (const auto& [_, p] : before) values.push_back(p.to_vector<float>());
  Tensor(before[1].second).set_requires_grad(false);  // a frozen bias stays frozen

  const Tensor flat = net.flatten_parameters();
  EXPECT_EQ(flat.shape(), Shape({26}));
  EXPECT_TRUE(flat.is_contiguous());
  EXPECT_EQ(flat.dtype(), DType::f32);
  EXPECT_TRUE(net.flat_parameters().shares_storage_with(flat));

  const auto after = net.named_parameters();
  std::int64_t offset = flat.storage_offset();
  std::vector<float> concatenated;
  for (std::size_t i = 0; i < after.size(); ++i) {
    const Tensor& p = after[i].second;
    EXPECT_EQ(after[i].first, before[i].first);
    EXPECT_EQ(p.to_vector<float>(), values[i]) << after[i].first;
    EXPECT_TRUE(p.shares_storage_with(flat)) << after[i].first;
    EXPECT_TRUE(p.is_contiguous());
    EXPECT_TRUE(p.is_leaf());
    EXPECT_EQ(p.storage_offset(), offset);
    EXPECT_FALSE(p.shares_storage_with(before[i].second));
    offset += p.numel();
    concatenated.insert(concatenated.end(), values[i].begin(), values[i].end());
  }
  EXPECT_EQ(flat.to_vector<float>(), concatenated);
  EXPECT_TRUE(after[0].second.requires_grad());
  EXPECT_FALSE(after[1].second.requires_grad());
  EXPECT_FALSE(flat.requires_grad());

  // Writing the buffer writes the parameters: they are views, not copies.
  Tensor writable = flat;
  writable.fill_(0.5);
  EXPECT_EQ(net.named_parameters()[2].second.to_vector<float>(), std::vector<float>(8, 0.5f));
  // Idempotent: a second call keeps the same buffer.
  EXPECT_TRUE(net.flatten_parameters().shares_storage_with(flat));
  EXPECT_TRUE(net.named_parameters()[0].second.shares_storage_with(flat));
}

TEST(Module, FlattenOfAParentReplacesAChildsBuffer) {
  nn::Sequential child = small_net();
  child.flatten_parameters();
  nn::Sequential parent;
  parent.add(nn::Dense(1, 3)).add(std::move(child));
  const Tensor flat = parent.flatten_parameters();
  EXPECT_EQ(flat.numel(), 6 + 26);
  for (const auto& [name, p] : parent.named_parameters()) EXPECT_TRUE(p.shares_storage_with(flat)) << name;
  EXPECT_FALSE(static_cast<const nn::Sequential&>(*parent[1]).flat_parameters().defined());
}

TEST(Module, FlattenRejectsMixedDtypes) {
  nn::Sequential net;
  net.add(nn::Dense(2, 2)).add(nn::Dense(2, 2, true, DType::f64));
  EXPECT_THROW(net.flatten_parameters(), dm::DTypeError);
  // Nothing changed: the parameters are still separate tensors.
  EXPECT_FALSE(net.flat_parameters().defined());
}

TEST(Module, EmptyModuleFlattensToAnEmptyBuffer) {
  nn::Sequential net;
  net.add(nn::ReLU());
  EXPECT_EQ(net.flatten_parameters().numel(), 0);
  EXPECT_EQ(net.num_parameters(), 0);
}

}  // namespace
