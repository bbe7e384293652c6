#include "distributed/sealing.hpp"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>
#include <string>

#include "democratising/base/error.hpp"

namespace dm::dist::wire {
namespace {

// Binds the keys to this protocol and version: keys derived for anything else never match.
constexpr std::string_view kInfo = "democratising-ps-v2 frame keys";
constexpr std::size_t kIvBytes = 12;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
using KdfContext = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

[[noreturn]] void fail(const char* what) { throw DistributedError(std::string("[sealing] OpenSSL failed to ") + what); }

const unsigned char* bytes(std::span<const std::byte> s) { return reinterpret_cast<const unsigned char*>(s.data()); }

int int_size(std::size_t n) {
  if (n > static_cast<std::size_t>(INT32_MAX)) throw DistributedError("[sealing] a frame of " + std::to_string(n) + " bytes is too large to seal");
  return static_cast<int>(n);
}

// The sequence number, little-endian, in the last 8 bytes of the 12-byte nonce.
std::array<unsigned char, kIvBytes> iv_for(std::uint64_t sequence) {
  std::array<unsigned char, kIvBytes> iv{};
  for (int i = 0; i < 8; ++i) iv[4 + i] = static_cast<unsigned char>(sequence >> (8 * i));
  return iv;
}

CipherContext begin(const std::array<unsigned char, 32>& key, std::uint64_t sequence, bool encrypt) {
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) fail("allocate a cipher");
  const auto iv = iv_for(sequence);
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv.data(), encrypt ? 1 : 0) != 1)
    fail("start AES-256-GCM");
  return ctx;
}

}  // namespace

Sealing Sealing::derive(std::string_view secret, std::span<const std::byte> server_nonce,
                        std::span<const std::byte> worker_nonce, End end) {
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
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(kInfo.data()), int_size(kInfo.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), keys.data(), &length) != 1 || length != keys.size())
    fail("derive the frame keys (HKDF-SHA256)");
  Sealing s;
  // The first half seals what the server sends, the second what the worker sends.
  auto* to_worker = keys.data();
  auto* to_server = keys.data() + 32;
  std::copy(end == End::server ? to_worker : to_server, (end == End::server ? to_worker : to_server) + 32, s.send_key_.begin());
  std::copy(end == End::server ? to_server : to_worker, (end == End::server ? to_server : to_worker) + 32, s.receive_key_.begin());
  return s;
}

std::vector<std::byte> Sealing::seal(std::span<const std::byte> header, std::span<const std::byte> head,
                                     std::span<const std::byte> body) {
  const CipherContext ctx = begin(send_key_, sent_, true);
  std::vector<std::byte> out(head.size() + body.size() + kSealTagBytes);
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int n = 0;
  if (EVP_CipherUpdate(ctx.get(), nullptr, &n, bytes(header), int_size(header.size())) != 1) fail("bind the header");
  if (!head.empty() && EVP_CipherUpdate(ctx.get(), o, &n, bytes(head), int_size(head.size())) != 1) fail("encrypt");
  if (!body.empty() && EVP_CipherUpdate(ctx.get(), o + head.size(), &n, bytes(body), int_size(body.size())) != 1)
    fail("encrypt");
  if (EVP_CipherFinal_ex(ctx.get(), o + head.size() + body.size(), &n) != 1) fail("finish encrypting");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kSealTagBytes), o + head.size() + body.size()) != 1)
    fail("make the tag");
  ++sent_;
  return out;
}

std::size_t Sealing::open(std::span<const std::byte> header, std::span<std::byte> sealed, const char* who) {
  const std::string refusal = std::string("[") + who + "] a frame failed authentication: altered, replayed, reordered or not sealed with the shared secret";
  if (sealed.size() < kSealTagBytes) throw DistributedError(refusal);
  const std::size_t length = sealed.size() - kSealTagBytes;
  const CipherContext ctx = begin(receive_key_, received_, false);
  auto* p = reinterpret_cast<unsigned char*>(sealed.data());
  int n = 0;
  if (EVP_CipherUpdate(ctx.get(), nullptr, &n, bytes(header), int_size(header.size())) != 1) fail("bind the header");
  if (length > 0 && EVP_CipherUpdate(ctx.get(), p, &n, p, int_size(length)) != 1) fail("decrypt");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kSealTagBytes), p + length) != 1)
    fail("take the tag");
  if (EVP_CipherFinal_ex(ctx.get(), p + length, &n) != 1) throw DistributedError(refusal);
  ++received_;
  return length;
}

}  // namespace dm::dist::wire
