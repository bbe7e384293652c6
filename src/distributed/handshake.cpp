#include "distributed/handshake.hpp"

#include <string>

#include "democratising/base/error.hpp"
#include "distributed/auth.hpp"

namespace dm::dist::wire {

Response split_response(std::span<const std::byte> payload) {
  if (payload.size() != kResponseBytes)
    throw FormatError("[handshake] a response must be " + std::to_string(kResponseBytes) + " bytes, not " +
                      std::to_string(payload.size()));
  return {payload.first(auth::kMacBytes), payload.subspan(auth::kMacBytes)};
}

std::vector<std::byte> both_nonces(std::span<const std::byte> server_nonce, std::span<const std::byte> worker_nonce) {
  std::vector<std::byte> out(server_nonce.begin(), server_nonce.end());
  out.insert(out.end(), worker_nonce.begin(), worker_nonce.end());
  return out;
}

asio::awaitable<std::optional<Sealing>> answer_challenge(asio::ip::tcp::socket& socket, std::string_view secret,
                                                         Duration timeout, WireProtection protection) {
  const Frame challenge = co_await read_frame(socket, timeout, kMaxControlPayload);
  if (challenge.type != MessageType::challenge)
    throw FormatError(std::string("[handshake] expected a challenge, got ") + message_name(challenge.type));
  const auth::Nonce own = auth::make_nonce();
  const auth::Mac mac = auth::respond(secret, both_nonces(challenge.payload, own));
  std::vector<std::byte> answer(mac.begin(), mac.end());
  answer.insert(answer.end(), own.begin(), own.end());
  co_await write_frame(socket, MessageType::response, answer, timeout);
  if (secret.empty()) co_return std::nullopt;
  co_return Sealing::derive(secret, challenge.payload, own, End::worker, protection);
}

}  // namespace dm::dist::wire
