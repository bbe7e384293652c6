#pragma once
// Safetensors checkpoints (https://github.com/huggingface/safetensors, format only):
//
//   u64 little-endian N | N bytes of JSON header | byte buffer
//   header: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//            "__metadata__": {"key": "value"}}
//
// Offsets are relative to the start of the byte buffer. Reading validates the whole header
// (types, dtypes, shapes, sizes, offsets that tile the buffer exactly, duplicate names) before
// any tensor is allocated, and throws FormatError naming the file and the problem. Writing is
// crash-safe (see AtomicFileWriter): a crash never leaves half a checkpoint.
//
//   dm::io::save_safetensors("model.safetensors", {{"w", w}, {"b", b}}, {{"epoch", "3"}});
//   auto tensors = dm::io::load_safetensors("model.safetensors");  // tensors.at("w")
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "democratising/core/tensor.hpp"

namespace dm::io {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

/// Tensors in buffer order plus the "__metadata__" strings.
struct SafetensorsContents {
  /// The tensors, in the order of the byte buffer.
  NamedTensors tensors;
  /// The "__metadata__" strings.
  Metadata metadata;
};

/// Largest header accepted when reading (guards against absurd header lengths).
inline constexpr std::size_t kMaxSafetensorsHeaderBytes = std::size_t{100} << 20;

/// The file's bytes: tensors (any device, any strides; names unique, not "__metadata__") are
/// stored contiguously in the order given. Throws ValueError for bad names or undefined tensors.
std::vector<std::byte> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata = {});

/// Parses bytes produced by serialize_safetensors (or any conforming writer); `source` names
/// the data in error messages. Tensors are copied out, so `data` may be freed afterwards.
SafetensorsContents parse_safetensors(const std::byte* data, std::size_t size, std::string_view source = "<memory>");

/// Writes a checkpoint crash-safely. Throws IoError when the file system refuses.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

/// Loads every tensor (CPU, contiguous) by name.
std::map<std::string, Tensor> load_safetensors(const std::string& path);

/// Loads tensors in buffer order together with the metadata.
SafetensorsContents load_safetensors_contents(const std::string& path);

/// Reads and validates only the header; returns the "__metadata__" strings.
Metadata load_safetensors_metadata(const std::string& path);

}  // namespace dm::io
