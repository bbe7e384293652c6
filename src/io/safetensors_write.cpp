// Safetensors writing: one JSON header (padded to 8 bytes) followed by every tensor's bytes
// in the order given. Saving streams the tensors straight into a crash-safe temporary file.
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "democratising/base/error.hpp"
#include "democratising/io/file.hpp"
#include "democratising/io/safetensors.hpp"
#include "safetensors_format.hpp"

namespace dm::io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; tensors are written as they lie in memory");

struct Layout {
  std::string header;             // JSON text plus padding, its length a multiple of 8
  std::vector<Tensor> contiguous;  // CPU, contiguous, in buffer order
};

Layout plan(const NamedTensors& tensors, const Metadata& metadata) {
  Layout layout;
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[std::string(safetensors::kMetadataKey)] = metadata;
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == safetensors::kMetadataKey)
      throw ValueError("[save_safetensors] '" + name + "' is reserved for the metadata");
    if (!names.insert(name).second) throw ValueError("[save_safetensors] duplicate tensor name '" + name + "'");
    if (!tensor.defined()) throw ValueError("[save_safetensors] tensor '" + name + "' is undefined");
    Tensor t = tensor.to(Device::cpu()).contiguous();
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * itemsize(t.dtype());
    header[name] = {{"dtype", std::string(safetensors::dtype_to_string(t.dtype()))},
                    {"shape", t.shape().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    layout.contiguous.push_back(std::move(t));
  }
  layout.header = header.dump();
  // Padding with spaces keeps the buffer 8-byte aligned for readers that map the file, and
  // trailing whitespace is still valid JSON.
  layout.header.append((8 - layout.header.size() % 8) % 8, ' ');
  return layout;
}

std::array<std::byte, 8> little_endian_u64(std::uint64_t v) {
  std::array<std::byte, 8> out{};
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((v >> (8 * i)) & 0xffu);
  return out;
}

std::size_t tensor_bytes(const Tensor& t) { return static_cast<std::size_t>(t.numel()) * itemsize(t.dtype()); }

}  // namespace

std::vector<std::byte> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata) {
  const Layout layout = plan(tensors, metadata);
  std::size_t total = 8 + layout.header.size();
  for (const Tensor& t : layout.contiguous) total += tensor_bytes(t);

  std::vector<std::byte> out(total);
  const auto length = little_endian_u64(layout.header.size());
  std::memcpy(out.data(), length.data(), 8);
  std::memcpy(out.data() + 8, layout.header.data(), layout.header.size());
  std::size_t pos = 8 + layout.header.size();
  for (const Tensor& t : layout.contiguous) {
    const std::size_t n = tensor_bytes(t);
    if (n > 0) std::memcpy(out.data() + pos, t.data_ptr(), n);
    pos += n;
  }
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  const Layout layout = plan(tensors, metadata);
  AtomicFileWriter writer(path);
  const auto length = little_endian_u64(layout.header.size());
  writer.write(length.data(), length.size());
  writer.write(layout.header.data(), layout.header.size());
  for (const Tensor& t : layout.contiguous) {
    const std::size_t n = tensor_bytes(t);
    if (n > 0) writer.write(t.data_ptr(), n);
  }
  writer.commit();
}

}  // namespace dm::io
