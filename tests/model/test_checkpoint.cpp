// Model checkpoints: a round trip restores parameters and optimizer state bit for bit; a file
// that does not fit the model is a FormatError and leaves the model as it was.
#include <gtest/gtest.h>

#include <cstring>

#include "democratising/base/error.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "model_test_util.hpp"

namespace {

using dm::Model;
using dm::Tensor;
namespace nn = dm::nn;
using model_test::blobs;
using model_test::TempDir;

Model net(std::uint64_t seed, std::int64_t hidden = 6, dm::ModelOptions options = {}) {
  dm::manual_seed(seed);
  return nn::Sequential().add(nn::Dense(4, hidden)).add(nn::Dense(hidden, 3)).build(options);
}

// Every named tensor's raw bytes, so equality means bitwise equality.
std::vector<std::pair<std::string, std::vector<unsigned char>>> bytes_of(const nn::NamedTensors& tensors) {
  std::vector<std::pair<std::string, std::vector<unsigned char>>> out;
  for (const auto& [name, t] : tensors) {
    const Tensor c = t.contiguous();
    std::vector<unsigned char> b(static_cast<std::size_t>(c.numel()) * dm::itemsize(c.dtype()));
    if (!b.empty()) std::memcpy(b.data(), c.data_ptr(), b.size());
    out.emplace_back(name, std::move(b));
  }
  return out;
}

struct Snapshot {
  std::vector<std::pair<std::string, std::vector<unsigned char>>> params, optim;
  std::int64_t steps;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const Model& m) {
  return {bytes_of(m.module().named_parameters()), bytes_of(m.optimizer().state()), m.optimizer().steps()};
}

void train(Model& m, int steps, std::uint64_t seed) {
  const auto data = blobs(12, 4, 3, seed);
  for (int i = 0; i < steps; ++i) m.train_step(data.x, data.y);
}

TEST(Checkpoint, RoundTripRestoresParametersAndOptimizerBitwise) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  Model trained = net(1);
  train(trained, 3, 2);
  trained.save_checkpoint(path, {{"epoch", "3"}});

  Model fresh = net(99);  // other weights, no momentum yet
  ASSERT_NE(snapshot(fresh), snapshot(trained));
  const auto metadata = fresh.load_checkpoint(path);
  EXPECT_EQ(snapshot(fresh), snapshot(trained));
  EXPECT_EQ(metadata.at("epoch"), "3");
  EXPECT_EQ(metadata.at("format"), "democratising-checkpoint-1");
  EXPECT_EQ(metadata.at("optimizer"), "sgd");
  // The parameters are still views of the flat buffer, and training goes on identically.
  for (const auto& [name, p] : fresh.module().named_parameters())
    EXPECT_TRUE(p.shares_storage_with(fresh.module().flat_parameters())) << name;
  train(trained, 2, 3);
  train(fresh, 2, 3);
  EXPECT_EQ(snapshot(fresh), snapshot(trained));
}

TEST(Checkpoint, FileLayout) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  Model m = net(3);
  train(m, 1, 4);
  m.save_checkpoint(path);
  const auto tensors = dm::io::load_safetensors(path);
  EXPECT_TRUE(tensors.count("param.0.weight"));
  EXPECT_TRUE(tensors.count("param.1.bias"));
  EXPECT_TRUE(tensors.count("optim.step"));
  EXPECT_TRUE(tensors.count("optim.momentum_buffer.0.weight"));
  EXPECT_EQ(dm::io::load_safetensors_metadata(path).at("format"), "democratising-checkpoint-1");
}

// Loads `path` into `m`, expecting a FormatError that mentions `fragment` and no change.
void expect_rejected(Model& m, const std::string& path, const std::string& fragment) {
  const Snapshot before = snapshot(m);
  try {
    m.load_checkpoint(path);
    ADD_FAILURE() << "loading " << path << " should fail";
  } catch (const dm::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
  EXPECT_EQ(snapshot(m), before) << "a rejected checkpoint changed the model";
}

TEST(Checkpoint, MismatchedArchitectureIsAFormatErrorAndChangesNothing) {
  TempDir dir;
  const std::string path = dir.file("wide.safetensors");
  Model wide = net(5, 7);
  train(wide, 2, 5);
  wide.save_checkpoint(path);
  Model m = net(6);
  train(m, 2, 6);
  expect_rejected(m, path, "parameter '0.weight' is f32 (7, 4), the model has f32 (6, 4)");
}

TEST(Checkpoint, MissingExtraOrForeignEntriesAreRejected) {
  TempDir dir;
  Model m = net(7);
  train(m, 1, 7);
  const std::string good = dir.file("good.safetensors");
  m.save_checkpoint(good);
  auto contents = dm::io::load_safetensors_contents(good);

  auto write_without = [&](const std::string& name, const std::string& file) {
    dm::io::NamedTensors kept;
    for (const auto& entry : contents.tensors)
      if (entry.first != name) kept.push_back(entry);
    dm::io::save_safetensors(dir.file(file), kept, contents.metadata);
    return dir.file(file);
  };
  expect_rejected(m, write_without("param.1.bias", "missing.safetensors"), "parameter '1.bias' is missing");
  expect_rejected(m, write_without("optim.momentum_buffer.1.weight", "no_momentum.safetensors"), "optimizer state");

  dm::io::NamedTensors extra = contents.tensors;
  extra.emplace_back("param.2.weight", Tensor::zeros({3, 3}));
  dm::io::save_safetensors(dir.file("extra.safetensors"), extra, contents.metadata);
  expect_rejected(m, dir.file("extra.safetensors"), "parameter '2.weight' is not in the model");

  dm::io::NamedTensors foreign = contents.tensors;
  foreign.emplace_back("embedding", Tensor::zeros({2}));
  dm::io::save_safetensors(dir.file("foreign.safetensors"), foreign, contents.metadata);
  expect_rejected(m, dir.file("foreign.safetensors"), "'embedding'");

  dm::io::NamedTensors wrong_momentum = contents.tensors;
  for (auto& [name, t] : wrong_momentum)
    if (name == "optim.momentum_buffer.0.weight") t = Tensor::zeros({2, 2});
  dm::io::save_safetensors(dir.file("bad_momentum.safetensors"), wrong_momentum, contents.metadata);
  expect_rejected(m, dir.file("bad_momentum.safetensors"), "momentum_buffer.0.weight");
}

TEST(Checkpoint, MetadataMustNameTheFormatAndOptimizer) {
  TempDir dir;
  Model m = net(8);
  const std::string good = dir.file("good.safetensors");
  m.save_checkpoint(good);
  const auto contents = dm::io::load_safetensors_contents(good);

  auto meta = contents.metadata;
  meta.erase("format");
  dm::io::save_safetensors(dir.file("no_format.safetensors"), contents.tensors, meta);
  expect_rejected(m, dir.file("no_format.safetensors"), "\"format\" is missing");

  meta = contents.metadata;
  meta["format"] = "something-else";
  dm::io::save_safetensors(dir.file("other_format.safetensors"), contents.tensors, meta);
  expect_rejected(m, dir.file("other_format.safetensors"), "'something-else'");

  Model adam = net(9, 6, {.optimizer = dm::optim::make_optimizer("adam", 0.01)});
  expect_rejected(adam, good, "optimizer is 'sgd', this model uses 'adam'");
}

TEST(Checkpoint, AdamStateRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("adam.safetensors");
  Model a = net(10, 6, {.optimizer = dm::optim::make_optimizer("adam", 0.01)});
  train(a, 3, 10);
  a.save_checkpoint(path);
  Model b = net(11, 6, {.optimizer = dm::optim::make_optimizer("adam", 0.01)});
  b.load_checkpoint(path);
  EXPECT_EQ(snapshot(b), snapshot(a));
}

}  // namespace
