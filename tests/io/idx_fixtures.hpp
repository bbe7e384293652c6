#pragma once
// Test-side writers for IDX and gzip bytes, written independently of the library's reader.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace dm::testing {

using Bytes = std::vector<std::byte>;

inline void append(Bytes& out, std::initializer_list<int> values) {
  for (int v : values) out.push_back(static_cast<std::byte>(v));
}

/// 0 0 type ndims | dims as big-endian u32 | payload (already big-endian).
inline Bytes idx_bytes(int type, const std::vector<std::uint32_t>& dims, const Bytes& payload) {
  Bytes out;
  append(out, {0, 0, type, static_cast<int>(dims.size())});
  for (std::uint32_t d : dims)
    append(out, {static_cast<int>(d >> 24), static_cast<int>((d >> 16) & 255), static_cast<int>((d >> 8) & 255),
                 static_cast<int>(d & 255)});
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

/// Big-endian bytes of an unsigned value of `width` bytes.
inline void append_be(Bytes& out, std::uint64_t v, int width) {
  for (int k = width - 1; k >= 0; --k) out.push_back(static_cast<std::byte>((v >> (8 * k)) & 255));
}

/// A gzip member holding `data` followed by `zeros` zero bytes (streamed, so large runs of
/// zeros cost no memory).
inline Bytes gzip(const Bytes& data, std::size_t zeros = 0, int level = 6) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  Bytes out;
  std::vector<unsigned char> chunk(1 << 16);
  const std::vector<unsigned char> zero_block(1 << 20, 0);
  auto pump = [&](const unsigned char* in, std::size_t n, int flush) {
    z.next_in = const_cast<unsigned char*>(in);
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = chunk.data();
      z.avail_out = static_cast<uInt>(chunk.size());
      deflate(&z, flush);
      const std::size_t produced = chunk.size() - z.avail_out;
      for (std::size_t i = 0; i < produced; ++i) out.push_back(static_cast<std::byte>(chunk[i]));
    } while (z.avail_out == 0 || z.avail_in > 0);
  };
  pump(reinterpret_cast<const unsigned char*>(data.data()), data.size(), Z_NO_FLUSH);
  while (zeros > 0) {
    const std::size_t n = zeros < zero_block.size() ? zeros : zero_block.size();
    pump(zero_block.data(), n, Z_NO_FLUSH);
    zeros -= n;
  }
  pump(nullptr, 0, Z_FINISH);
  deflateEnd(&z);
  return out;
}

}  // namespace dm::testing
