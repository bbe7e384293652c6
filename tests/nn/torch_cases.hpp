#pragma once
// Reading the JSON files of PyTorch results under tests/fixtures/ that hold named cases and
// tensors as {"shape": [...], "data": [...row-major...]} (conv/, norm/, attention/, cnn/; each
// written by a make_*_fixture(s).py beside it), and comparing dm's tensors with them.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/nn_test_util.hpp"

namespace nn_test {

using json = nlohmann::json;

/// tests/fixtures/<path>, parsed once per process; a runtime_error naming the file when it
/// cannot be read.
inline const json& fixture(const std::string& path) {
  static std::map<std::string, json> loaded;  // filled while gtest registers the cases, on one thread
  const auto found = loaded.find(path);
  if (found != loaded.end()) return found->second;
  std::ifstream in(std::string(DM_TEST_FIXTURES_DIR) + "/" + path);
  if (!in) throw std::runtime_error("cannot open tests/fixtures/" + path);
  return loaded.emplace(path, json::parse(in)).first->second;
}

/// The "name" of every entry of `list`, in order; with `kind`, of those whose "kind" is that.
inline std::vector<std::string> names_of(const json& list, const char* kind = nullptr) {
  std::vector<std::string> names;
  for (const json& c : list)
    if (kind == nullptr || c.at("kind") == kind) names.push_back(c.at("name").get<std::string>());
  return names;
}

/// The entry of `list` called `name`.
inline const json& entry_named(const json& list, const std::string& name) {
  for (const json& c : list)
    if (c.at("name") == name) return c;
  throw std::runtime_error("no fixture entry " + name);
}

/// A fixture tensor's shape.
inline Shape shape_of(const json& t) { return Shape(t.at("shape").get<std::vector<std::int64_t>>()); }

/// A fixture tensor's values.
inline std::vector<double> data_of(const json& t) { return t.at("data").get<std::vector<double>>(); }

/// A fixture tensor as a dm tensor of `dtype`.
inline Tensor tensor_of(const json& t, DType dtype) { return Tensor::from_vector(data_of(t), shape_of(t)).to(dtype); }

/// `got` is defined, has the fixture tensor's shape, and its values within rtol/atol.
inline void expect_tensor(const Tensor& got, const json& want, double rtol, double atol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.shape(), shape_of(want)) << what;
  expect_close(got, data_of(want), rtol, atol, what);
}

}  // namespace nn_test
