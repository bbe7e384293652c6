#pragma once
// Comparing the checkpoints two runs of `dm train` wrote, tensor by tensor and bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "democratising/io/safetensors.hpp"

namespace cli_test {

/// Every tensor of two checkpoints is present in both with the same dtype, shape and bytes.
inline void expect_same_tensors(const std::filesystem::path& a, const std::filesystem::path& b) {
  const auto ta = dm::io::load_safetensors(a.string());
  const auto tb = dm::io::load_safetensors(b.string());
  ASSERT_EQ(ta.size(), tb.size());
  ASSERT_FALSE(ta.empty());
  for (const auto& [name, t] : ta) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(tb.count(name));
    const dm::Tensor& u = tb.at(name);
    ASSERT_EQ(t.dtype(), u.dtype());
    ASSERT_EQ(t.shape(), u.shape());
    const auto bytes = static_cast<std::size_t>(t.numel()) * dm::itemsize(t.dtype());
    EXPECT_EQ(std::memcmp(t.data_ptr(), u.data_ptr(), bytes), 0);
  }
}

}  // namespace cli_test
