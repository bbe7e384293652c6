#include "distributed/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <vector>

#include "democratising/base/error.hpp"

namespace dm::dist::auth {
namespace {

// Binds the answer to this protocol, so a MAC made for another use of the secret never fits.
constexpr std::string_view kTag = "democratising-ps-v1";

}  // namespace

Nonce make_nonce() {
  Nonce nonce{};
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) != 1)
    throw DistributedError("[auth] the random generator could not provide a nonce");
  return nonce;
}

Mac respond(std::string_view secret, std::span<const std::byte> nonce) {
  std::vector<unsigned char> message(kTag.begin(), kTag.end());
  const auto* n = reinterpret_cast<const unsigned char*>(nonce.data());
  message.insert(message.end(), n, n + nonce.size());
  Mac mac{};
  unsigned int length = 0;
  // An empty key is valid HMAC; a server without a secret still runs the same exchange.
  static const unsigned char empty_key = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&empty_key) : static_cast<const void*>(secret.data());
  if (!HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), message.data(), message.size(),
            reinterpret_cast<unsigned char*>(mac.data()), &length) ||
      length != mac.size())
    throw DistributedError("[auth] HMAC-SHA256 failed");
  return mac;
}

bool verify(std::string_view secret, std::span<const std::byte> nonce, std::span<const std::byte> answer) {
  if (answer.size() != kMacBytes) return false;
  const Mac expected = respond(secret, nonce);
  return CRYPTO_memcmp(expected.data(), answer.data(), kMacBytes) == 0;
}

}  // namespace dm::dist::auth
