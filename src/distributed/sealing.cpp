#include "distributed/sealing.hpp"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "democratising/base/error.hpp"

namespace dm::dist::wire {
namespace {

// Binds the keys to this protocol, its version and the protection: keys derived for anything
// else never match. (Version 4 cut sealed payloads into chunks, each with its own nonce and tag.)
constexpr std::string_view kSealedInfo = "democratising-ps-v4 frame keys";
constexpr std::string_view kAuthenticatedInfo = "democratising-ps-v4 authenticated frame keys";
constexpr std::size_t kIvBytes = 12;
constexpr std::uint64_t kSealedChunkBytes = kSealChunkBytes + kSealTagBytes;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
using KdfContext = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

[[noreturn]] void fail(const char* what) { throw DistributedError(std::string("[sealing] OpenSSL failed to ") + what); }

const unsigned char* bytes(std::span<const std::byte> s) { return reinterpret_cast<const unsigned char*>(s.data()); }

int int_size(std::size_t n) {
  if (n > static_cast<std::size_t>(INT32_MAX)) throw DistributedError("[sealing] " + std::to_string(n) + " bytes are too many to seal at once");
  return static_cast<int>(n);
}

// Chunk `index` of frame `sequence`: the index (u32 LE) in the first 4 bytes of the 12-byte
// nonce, the sequence (u64 LE) in the last 8. No (sequence, index) pair repeats under a key.
std::array<unsigned char, kIvBytes> iv_for(std::uint64_t sequence, std::uint64_t index) {
  if (index > UINT32_MAX) throw DistributedError("[sealing] a frame of more than 2^32 chunks cannot be sealed");
  std::array<unsigned char, kIvBytes> iv{};
  for (int i = 0; i < 4; ++i) iv[i] = static_cast<unsigned char>(index >> (8 * i));
  for (int i = 0; i < 8; ++i) iv[4 + i] = static_cast<unsigned char>(sequence >> (8 * i));
  return iv;
}

// A context per chunk: setting one up costs about a microsecond beside ~0.1 ms of cipher per
// chunk, and keeps the chunk functions free of shared state.
CipherContext begin(const std::array<unsigned char, 32>& key, std::uint64_t sequence, std::uint64_t index, bool encrypt,
                    std::span<const std::byte> header) {
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) fail("allocate a cipher");
  const auto iv = iv_for(sequence, index);
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv.data(), encrypt ? 1 : 0) != 1)
    fail("start AES-256-GCM");
  int n = 0;
  if (EVP_CipherUpdate(ctx.get(), nullptr, &n, bytes(header), int_size(header.size())) != 1) fail("bind the header");
  return ctx;
}

}  // namespace

std::pair<std::span<const std::byte>, std::span<const std::byte>> chunk_of(std::span<const std::byte> head,
                                                                           std::span<const std::byte> body,
                                                                           std::uint64_t index) {
  const std::uint64_t total = head.size() + body.size();
  const std::uint64_t begin = std::min<std::uint64_t>(index * kSealChunkBytes, total);
  const std::uint64_t size = std::min<std::uint64_t>(kSealChunkBytes, total - begin);
  if (begin >= head.size()) return {body.subspan(begin - head.size(), size), {}};
  const std::uint64_t from_head = std::min<std::uint64_t>(size, head.size() - begin);
  return {head.subspan(begin, from_head), body.first(size - from_head)};
}

std::uint64_t sealed_chunks(std::uint64_t plain) {
  return plain == 0 ? 1 : (plain - 1) / kSealChunkBytes + 1;
}

std::uint64_t sealed_length(std::uint64_t plain) { return plain + sealed_chunks(plain) * kSealTagBytes; }

std::uint64_t plain_length(std::uint64_t sealed) {
  if (sealed < kSealTagBytes)
    throw FormatError("[frame] a sealed payload of " + std::to_string(sealed) + " bytes is shorter than its tag");
  // Every chunk but the last is full, so the chunk count follows from the length alone.
  const std::uint64_t chunks = (sealed - 1) / kSealedChunkBytes + 1;
  const std::uint64_t last = sealed - (chunks - 1) * kSealedChunkBytes;
  if (last < kSealTagBytes || (chunks > 1 && last == kSealTagBytes))
    throw FormatError("[frame] " + std::to_string(sealed) + " bytes is no sealed payload's length: its last chunk has " +
                      std::to_string(last) + " bytes, no room for data and a " + std::to_string(kSealTagBytes) + "-byte tag");
  return sealed - chunks * kSealTagBytes;
}

void refuse_unopened_frame(const char* who) {
  throw UnopenedFrame(std::string("[") + who +
                     "] a frame failed authentication: altered, replayed, reordered, or not sealed with the shared secret and "
                         "the same wire protection (sealed or authenticated) on both ends");
}

Sealing Sealing::derive(std::string_view secret, std::span<const std::byte> server_nonce,
                        std::span<const std::byte> worker_nonce, End end, WireProtection protection) {
  const std::string_view info = protection == WireProtection::sealed ? kSealedInfo : kAuthenticatedInfo;
  std::vector<unsigned char> salt(bytes(server_nonce), bytes(server_nonce) + server_nonce.size());
  salt.insert(salt.end(), bytes(worker_nonce), bytes(worker_nonce) + worker_nonce.size());
  KdfContext ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), &EVP_PKEY_CTX_free);
  std::array<unsigned char, 64> keys{};
  std::size_t length = keys.size();
  static const unsigned char empty_key = 0;
  const auto* key = secret.empty() ? &empty_key : reinterpret_cast<const unsigned char*>(secret.data());
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt.data(), int_size(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), key, secret.empty() ? 1 : int_size(secret.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(info.data()), int_size(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), keys.data(), &length) != 1 || length != keys.size())
    fail("derive the frame keys (HKDF-SHA256)");
  Sealing s;
  s.protection_ = protection;
  // The first half seals what the server sends, the second what the worker sends.
  auto* to_worker = keys.data();
  auto* to_server = keys.data() + 32;
  std::copy(end == End::server ? to_worker : to_server, (end == End::server ? to_worker : to_server) + 32, s.send_key_.begin());
  std::copy(end == End::server ? to_server : to_worker, (end == End::server ? to_server : to_worker) + 32, s.receive_key_.begin());
  return s;
}

std::size_t Sealing::seal_chunk(std::span<const std::byte> header, std::uint64_t sequence, std::uint64_t index,
                               std::span<const std::byte> head, std::span<const std::byte> body, std::byte* out) const {
  const auto [first, second] = chunk_of(head, body, index);
  if (protection_ == WireProtection::authenticated) {
    const Tag tag = tag_chunk(header, sequence, index, head, body);
    if (!first.empty()) std::memcpy(out, first.data(), first.size());
    if (!second.empty()) std::memcpy(out + first.size(), second.data(), second.size());
    std::memcpy(out + first.size() + second.size(), tag.data(), kSealTagBytes);
    return first.size() + second.size() + kSealTagBytes;
  }
  const CipherContext ctx = begin(send_key_, sequence, index, true, header);
  auto* o = reinterpret_cast<unsigned char*>(out);
  int n = 0;
  if (!first.empty() && EVP_CipherUpdate(ctx.get(), o, &n, bytes(first), int_size(first.size())) != 1) fail("encrypt");
  o += first.size();
  if (!second.empty() && EVP_CipherUpdate(ctx.get(), o, &n, bytes(second), int_size(second.size())) != 1) fail("encrypt");
  o += second.size();
  if (EVP_CipherFinal_ex(ctx.get(), o, &n) != 1) fail("finish encrypting");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kSealTagBytes), o) != 1) fail("make the tag");
  return first.size() + second.size() + kSealTagBytes;
}

Sealing::Tag Sealing::tag_chunk(std::span<const std::byte> header, std::uint64_t sequence, std::uint64_t index,
                                std::span<const std::byte> head, std::span<const std::byte> body) const {
  if (protection_ != WireProtection::authenticated)
    throw std::logic_error("[sealing] tag_chunk leaves the bytes plain: authenticated protection only");
  const auto [first, second] = chunk_of(head, body, index);
  const CipherContext ctx = begin(send_key_, sequence, index, true, header);
  // GMAC: the chunk is associated data after the header, and nothing is encrypted.
  int n = 0;
  if (!first.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &n, bytes(first), int_size(first.size())) != 1) fail("authenticate");
  if (!second.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &n, bytes(second), int_size(second.size())) != 1) fail("authenticate");
  Tag tag{};
  unsigned char none[16];
  if (EVP_CipherFinal_ex(ctx.get(), none, &n) != 1) fail("finish authenticating");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kSealTagBytes), tag.data()) != 1) fail("make the tag");
  return tag;
}

bool Sealing::open_chunk(std::span<const std::byte> header, std::uint64_t index, std::span<std::byte> chunk,
                         const Tag& tag) const {
  const CipherContext ctx = begin(receive_key_, received_, index, false, header);
  auto* p = reinterpret_cast<unsigned char*>(chunk.data());
  int n = 0;
  if (!chunk.empty()) {
    // Authenticated, the chunk is associated data (out = null): checked, left as it is.
    unsigned char* out = protection_ == WireProtection::sealed ? p : nullptr;
    if (EVP_CipherUpdate(ctx.get(), out, &n, p, int_size(chunk.size())) != 1) fail("decrypt");
  }
  // The tag is only read: OpenSSL's interface takes it as non-const.
  Tag copy = tag;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kSealTagBytes), copy.data()) != 1)
    fail("take the tag");
  return EVP_CipherFinal_ex(ctx.get(), p + chunk.size(), &n) == 1;
}

std::vector<std::byte> Sealing::seal(std::span<const std::byte> header, std::span<const std::byte> head,
                                     std::span<const std::byte> body) {
  const std::uint64_t plain = head.size() + body.size();
  const std::uint64_t chunks = sealed_chunks(plain);
  std::vector<std::byte> out(sealed_length(plain));
  const std::uint64_t sequence = next_send_sequence();
  std::size_t at = 0;
  for (std::uint64_t i = 0; i < chunks; ++i) at += seal_chunk(header, sequence, i, head, body, out.data() + at);
  return out;
}

std::size_t Sealing::open(std::span<const std::byte> header, std::span<std::byte> sealed, const char* who) {
  std::uint64_t plain = 0;
  try {
    plain = plain_length(sealed.size());
  } catch (const FormatError&) {
    refuse_unopened_frame(who);
  }
  const std::uint64_t chunks = sealed_chunks(plain);
  for (std::uint64_t i = 0; i < chunks; ++i) {
    const std::size_t size = static_cast<std::size_t>(std::min<std::uint64_t>(kSealChunkBytes, plain - i * kSealChunkBytes));
    const std::span<std::byte> chunk = sealed.subspan(i * kSealedChunkBytes, size);
    Tag tag{};
    std::memcpy(tag.data(), chunk.data() + size, kSealTagBytes);
    if (!open_chunk(header, i, chunk, tag)) refuse_unopened_frame(who);
    // Chunk i's plaintext moves left over the tags before it; later chunks lie beyond it.
    if (i > 0) std::memmove(sealed.data() + i * kSealChunkBytes, chunk.data(), size);
  }
  frame_opened();
  return static_cast<std::size_t>(plain);
}

}  // namespace dm::dist::wire
