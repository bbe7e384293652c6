#pragma once
// How a parameter server and its workers protect their frames once they share a secret.
//
// Either way every frame after the handshake carries a 16-byte tag per 256 KiB chunk, keyed
// from the secret and both sides' fresh nonces and bound to the connection, the direction,
// the frame's place in the stream and its header: an altered, replayed, reordered, truncated
// or reflected frame is refused and the connection dropped. The two differ in secrecy only.
#include <string>

namespace dm::dist {

enum class WireProtection {
  /// Encrypted and authenticated (AES-256-GCM): no one on the path reads the parameters or
  /// the gradients (which can reveal training data).
  sealed,
  /// Authenticated only (AES-256-GMAC over the plain bytes): the same integrity at about three
  /// times the cipher's speed, for links where what is sent may be seen but must not be changed.
  authenticated,
};

/// "sealed" or "authenticated"; ValueError otherwise.
WireProtection parse_wire_protection(const std::string& name);
/// The name parse_wire_protection takes.
const char* wire_protection_name(WireProtection protection);

}  // namespace dm::dist
