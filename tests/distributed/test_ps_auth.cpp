// HMAC-SHA256 challenge-response: answers match Python's hmac module, and anything but the
// right secret over the right nonce is refused.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "distributed/auth.hpp"

namespace {

using namespace dm::dist::auth;

Nonce counting_nonce() {
  Nonce n{};
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = std::byte(i);
  return n;
}

std::string hex(std::span<const std::byte> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    out += digits[std::to_integer<int>(b) >> 4];
    out += digits[std::to_integer<int>(b) & 15];
  }
  return out;
}

TEST(PsAuth, AnswerMatchesAnIndependentHmac) {
  // python3: hmac.new(key, b'democratising-ps-v1' + bytes(range(32)), hashlib.sha256).hexdigest()
  EXPECT_EQ(hex(respond("correct horse", counting_nonce())),
            "d1ec82fb051935999d1037ea2d63eba776a3156ea4e8064e47e5713494f5a20c");
  EXPECT_EQ(hex(respond("", counting_nonce())), "3e15f3b415a1bf242858769f16d191cf64a37ff276c35b3ea0c35f73b5b40bf8");
}

TEST(PsAuth, AcceptsOnlyTheRightSecretAndNonce) {
  const Nonce nonce = make_nonce();
  const Mac good = respond("s3cret", nonce);
  EXPECT_TRUE(verify("s3cret", nonce, good));
  EXPECT_FALSE(verify("s3cre", nonce, good));
  EXPECT_FALSE(verify("s3cret ", nonce, good));
  EXPECT_FALSE(verify("", nonce, good));
  Nonce other = nonce;
  other[0] ^= std::byte{1};
  EXPECT_FALSE(verify("s3cret", other, good));
  for (std::size_t i = 0; i < good.size(); ++i) {
    Mac flipped = good;
    flipped[i] ^= std::byte{0x80};
    EXPECT_FALSE(verify("s3cret", nonce, flipped)) << "byte " << i;
  }
  EXPECT_FALSE(verify("s3cret", nonce, std::span(good.data(), good.size() - 1)));
  EXPECT_FALSE(verify("s3cret", nonce, {}));
}

TEST(PsAuth, NoncesAreFresh) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(hex(make_nonce()));
  EXPECT_EQ(seen.size(), 200u);
}

}  // namespace
