#pragma once
// A safetensors header on its own, for readers that place the tensor bytes in memory of their
// own (a network frame received straight into its tensor): the same validation as
// parse_safetensors, without the byte buffer.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "democratising/base/dtype.hpp"
#include "democratising/base/shape.hpp"
#include "democratising/io/safetensors.hpp"

namespace dm::io {

/// One tensor's entry in a header: where its bytes lie in the byte buffer.
struct SafetensorsEntry {
  /// The tensor's name.
  std::string name;
  /// Its dtype.
  DType dtype = DType::f32;
  /// Its shape.
  Shape shape;
  /// Where its bytes begin in the byte buffer.
  std::uint64_t begin = 0;
  /// Where they end (one past the last).
  std::uint64_t end = 0;
};

/// A validated header: the entries in buffer order plus the "__metadata__" strings.
struct SafetensorsHeader {
  /// The tensors, in the order of the byte buffer.
  std::vector<SafetensorsEntry> entries;
  /// The "__metadata__" strings.
  Metadata metadata;
};

/// Validates a header's JSON (the bytes after the length prefix) against a byte buffer of
/// `buffer_size` bytes with every check parse_safetensors makes (types, dtypes, shapes, sizes,
/// entries that tile the buffer exactly); FormatError naming `source` and the problem.
SafetensorsHeader parse_safetensors_header(std::string_view json, std::uint64_t buffer_size,
                                           std::string_view source = "<memory>");

}  // namespace dm::io
