#pragma once
// IDX files (the MNIST / Fashion-MNIST container), raw or gzip-compressed:
//
//   0x00 0x00 <type> <ndims> | ndims big-endian u32 extents | big-endian elements
//
// type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64. Stored dtypes: u8 -> u8,
// i8/i16/i32 -> i32, f32 -> f32, f64 -> f64. The header, the extents and the exact data
// length are checked before the tensor is allocated; malformed input throws FormatError
// naming the file and the problem, a file that cannot be read throws IoError.
#include <cstddef>
#include <string>

#include "democratising/core/tensor.hpp"

namespace dm::io {

/// Default cap on the decompressed size of an IDX file (header and data).
inline constexpr std::size_t kMaxIdxBytes = std::size_t{1} << 30;

/// Limits of read_idx.
struct IdxOptions {
  /// Files (after decompression) larger than this are rejected without being inflated further.
  std::size_t max_bytes = kMaxIdxBytes;
};

/// Reads an IDX file; gzip input is recognised by its magic bytes 1f 8b.
Tensor read_idx(const std::string& path, const IdxOptions& options = {});

}  // namespace dm::io
