// IDX reading. The whole (possibly gzip-compressed) file is brought into memory under a size
// cap, inflating no further than the header says the data needs plus one byte, so neither a
// lying header nor a decompression bomb can make us allocate more than the cap.
#include "democratising/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/io/file.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::io {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw FormatError("[read_idx] '" + path + "': " + problem);
}

struct ElementType {
  std::uint8_t code;
  std::size_t file_bytes;  // size of one element in the file
  DType dtype;             // how it is stored in memory
  const char* name;
};

constexpr ElementType kTypes[] = {
    {0x08, 1, DType::u8, "u8"},   {0x09, 1, DType::i32, "i8"},  {0x0B, 2, DType::i32, "i16"},
    {0x0C, 4, DType::i32, "i32"}, {0x0D, 4, DType::f32, "f32"}, {0x0E, 8, DType::f64, "f64"},
};

const ElementType* find_type(std::uint8_t code) {
  for (const ElementType& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

std::uint32_t read_be_u32(const std::byte* p) {
  return (std::to_integer<std::uint32_t>(p[0]) << 24) | (std::to_integer<std::uint32_t>(p[1]) << 16) |
         (std::to_integer<std::uint32_t>(p[2]) << 8) | std::to_integer<std::uint32_t>(p[3]);
}

std::string hex_byte(std::byte b) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto c = std::to_integer<unsigned>(b);
  return std::string{'0', 'x', kHex[c >> 4], kHex[c & 15]};
}

struct IdxHeader {
  const ElementType* type = nullptr;
  Shape shape;
  std::size_t header_bytes = 0;
  std::size_t data_bytes = 0;
};

// Validates the magic, type and extents in the first bytes of the (decompressed) content.
// Returns false when more bytes are needed to decide.
bool parse_header(const std::byte* p, std::size_t available, std::size_t max_bytes, const std::string& path,
                  IdxHeader& h) {
  if (available < 4) return false;
  if (p[0] != std::byte{0} || p[1] != std::byte{0})
    fail(path, "bad magic: the first two bytes must be 0x00 0x00 (is this an IDX file?)");
  h.type = find_type(std::to_integer<std::uint8_t>(p[2]));
  if (!h.type) fail(path, "unknown element type " + hex_byte(p[2]) + " (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)");
  const int ndims = std::to_integer<int>(p[3]);
  if (ndims < 1 || ndims > kMaxDims)
    fail(path, std::to_string(ndims) + " dims; IDX files need 1 to " + std::to_string(kMaxDims));
  h.header_bytes = 4 + 4 * static_cast<std::size_t>(ndims);
  if (available < h.header_bytes) return false;

  std::uint64_t bytes = h.type->file_bytes;
  for (int i = 0; i < ndims; ++i) {
    const std::uint32_t d = read_be_u32(p + 4 + 4 * i);
    h.shape.push_back(d);
    if (__builtin_mul_overflow(bytes, std::uint64_t{d}, &bytes) || bytes > max_bytes)
      fail(path, "dims " + h.shape.str() + (i + 1 < ndims ? "..." : "") + " of " + h.type->name +
                     " need more than the limit of " + std::to_string(max_bytes) + " bytes");
  }
  if (h.header_bytes + bytes > max_bytes)
    fail(path, "dims " + h.shape.str() + " need more than the limit of " + std::to_string(max_bytes) + " bytes");
  h.data_bytes = static_cast<std::size_t>(bytes);
  return true;
}

bool is_gzip(const std::vector<std::byte>& file) {
  return file.size() >= 2 && file[0] == std::byte{0x1f} && file[1] == std::byte{0x8b};
}

// Inflates a gzip file (one or more members) a piece at a time, so the caller decides how far
// to go. A truncated or damaged stream, or bytes after the last member, throw FormatError.
class GzipReader {
 public:
  GzipReader(const std::vector<std::byte>& in, const std::string& path) : path_(path) {
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) throw Error("[read_idx] cannot initialise zlib");
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    z_.avail_in = 0;
    remaining_in_ = in.size();
  }
  ~GzipReader() { inflateEnd(&z_); }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Appends inflated bytes to `out` until it holds `want` bytes or the input ends.
  void fill(std::vector<std::byte>& out, std::size_t want) {
    while (out.size() < want && !finished_) {
      const std::size_t have = out.size();
      out.resize(std::min(want, have + (std::size_t{1} << 24)));  // grow by at most 16 MiB a step
      z_.next_out = reinterpret_cast<Bytef*>(out.data() + have);
      z_.avail_out = static_cast<uInt>(out.size() - have);
      while (z_.avail_out > 0 && !finished_) step();
      out.resize(out.size() - z_.avail_out);
    }
  }

 private:
  void step() {
    if (z_.avail_in == 0 && remaining_in_ > 0) refill();
    const int rc = inflate(&z_, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      if (z_.avail_in == 0 && remaining_in_ > 0) refill();
      if (z_.avail_in == 0) {
        finished_ = true;
      } else if (z_.avail_in >= 2 && z_.next_in[0] == 0x1f && z_.next_in[1] == 0x8b) {
        inflateReset(&z_);  // another gzip member follows (as `cat a.gz b.gz` makes)
      } else {
        fail(path_, std::to_string(z_.avail_in + remaining_in_) + " trailing bytes after the gzip stream");
      }
    } else if (rc == Z_BUF_ERROR && z_.avail_in == 0 && remaining_in_ == 0) {
      fail(path_, "gzip stream is truncated");
    } else if (rc != Z_OK) {
      fail(path_, std::string("gzip stream is corrupt (") + (z_.msg ? z_.msg : zError(rc)) + ")");
    }
  }

  // zlib counts input in uInt; feed files past 4 GiB in slices.
  void refill() {
    const std::size_t n = std::min<std::size_t>(remaining_in_, std::numeric_limits<uInt>::max());
    z_.avail_in = static_cast<uInt>(n);
    remaining_in_ -= n;
  }

  z_stream z_{};
  std::size_t remaining_in_ = 0;
  bool finished_ = false;
  const std::string& path_;
};

// Big-endian file elements -> native tensor elements. Shape: src (n * width bytes) -> dst (n).
template <class Out, class FileInt>
void decode_ints(const std::byte* src, Out* dst, std::int64_t n) {
  constexpr std::size_t width = sizeof(FileInt);
  par_for(n, 1 << 16, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      std::make_unsigned_t<FileInt> u = 0;
      for (std::size_t k = 0; k < width; ++k) u = static_cast<decltype(u)>((u << 8) | std::to_integer<unsigned>(src[i * width + k]));
      FileInt v;
      std::memcpy(&v, &u, width);
      dst[i] = static_cast<Out>(v);
    }
  });
}

template <class Float, class Bits>
void decode_floats(const std::byte* src, Float* dst, std::int64_t n) {
  static_assert(sizeof(Float) == sizeof(Bits));
  par_for(n, 1 << 16, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      Bits u = 0;
      for (std::size_t k = 0; k < sizeof(Bits); ++k) u = (u << 8) | std::to_integer<Bits>(src[i * sizeof(Bits) + k]);
      std::memcpy(dst + i, &u, sizeof(Bits));
    }
  });
}

Tensor decode(const IdxHeader& h, const std::byte* data) {
  Tensor t = make_tensor(h.shape, h.type->dtype, Device::cpu());
  const std::int64_t n = h.shape.numel();
  switch (h.type->code) {
    case 0x08: if (n > 0) std::memcpy(t.data_ptr(), data, static_cast<std::size_t>(n)); break;
    case 0x09: decode_ints<std::int32_t, std::int8_t>(data, t.data<std::int32_t>(), n); break;
    case 0x0B: decode_ints<std::int32_t, std::int16_t>(data, t.data<std::int32_t>(), n); break;
    case 0x0C: decode_ints<std::int32_t, std::int32_t>(data, t.data<std::int32_t>(), n); break;
    case 0x0D: decode_floats<float, std::uint32_t>(data, t.data<float>(), n); break;
    case 0x0E: decode_floats<double, std::uint64_t>(data, t.data<double>(), n); break;
    default: break;
  }
  return t;
}

std::string size_mismatch(const IdxHeader& h, std::size_t actual) {
  return "dims " + h.shape.str() + " of " + h.type->name + " need " + std::to_string(h.header_bytes + h.data_bytes) +
         " bytes, the file holds " + (actual > h.header_bytes + h.data_bytes ? std::string("more (trailing data)") : std::to_string(actual));
}

}  // namespace

Tensor read_idx(const std::string& path, const IdxOptions& options) {
  // Deflate grows incompressible data by at most 5 bytes per 64 KiB block, and gzip headers
  // are small, so the cap on the content bounds the compressed file too (with this slack).
  const std::size_t slack = options.max_bytes / 1024 + (std::size_t{1} << 20);
  const std::size_t file_cap = options.max_bytes > SIZE_MAX - slack ? SIZE_MAX : options.max_bytes + slack;
  std::vector<std::byte> file = read_file(path, file_cap);
  IdxHeader h;
  if (!is_gzip(file)) {
    if (!parse_header(file.data(), file.size(), options.max_bytes, path, h))
      fail(path, "file has " + std::to_string(file.size()) + " bytes, too short for an IDX header");
    if (file.size() != h.header_bytes + h.data_bytes) fail(path, size_mismatch(h, file.size()));
    return decode(h, file.data() + h.header_bytes);
  }

  GzipReader gz(file, path);
  std::vector<std::byte> content;
  gz.fill(content, 4);
  if (!parse_header(content.data(), content.size(), options.max_bytes, path, h)) {
    if (content.size() >= 4) gz.fill(content, 4 + 4 * std::to_integer<std::size_t>(content[3]));
    if (!parse_header(content.data(), content.size(), options.max_bytes, path, h))
      fail(path, "decompressed content has " + std::to_string(content.size()) + " bytes, too short for an IDX header");
  }
  // One byte past what the dims need tells "exactly right" from "trailing data".
  const std::size_t need = h.header_bytes + h.data_bytes;
  gz.fill(content, need + 1);
  if (content.size() != need) fail(path, size_mismatch(h, content.size()));
  file = {};  // the compressed copy is no longer needed
  return decode(h, content.data() + h.header_bytes);
}

}  // namespace dm::io
