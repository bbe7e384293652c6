#include "democratising/distributed/wire_protection.hpp"

#include "democratising/base/error.hpp"

namespace dm::dist {

WireProtection parse_wire_protection(const std::string& name) {
  if (name == "sealed") return WireProtection::sealed;
  if (name == "authenticated") return WireProtection::authenticated;
  throw ValueError("[wire] unknown wire protection '" + name + "' (sealed, authenticated)");
}

const char* wire_protection_name(WireProtection protection) {
  return protection == WireProtection::authenticated ? "authenticated" : "sealed";
}

}  // namespace dm::dist
