#pragma once
// A small synthetic classification problem for the model tests: `classes` well separated
// Gaussian blobs in `dims` dimensions (std::mt19937_64, independent of the library's generator).
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace model_test {

struct Problem {
  dm::Tensor x;  // (n, dims) f32
  dm::Tensor y;  // (n) i64
};

inline Problem blobs(std::int64_t n, std::int64_t dims, std::int64_t classes, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(0.0, 0.5);
  // Class c's centre: 3 along axis c (mod dims), and -3 along the next axis for c >= dims.
  std::vector<float> x(static_cast<std::size_t>(n * dims));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = i % classes;
    y[i] = c;
    for (std::int64_t d = 0; d < dims; ++d) {
      double centre = 0.0;
      if (d == c % dims) centre = c < dims ? 3.0 : -3.0;
      x[i * dims + d] = static_cast<float>(centre + noise(gen));
    }
  }
  return {dm::Tensor::from_vector(x, {n, dims}), dm::Tensor::from_vector(y)};
}

/// A fresh path under the system's temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("dm_model_test_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace model_test
