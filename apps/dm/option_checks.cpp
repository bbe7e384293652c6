#include "option_checks.hpp"

#include <charconv>
#include <cstdint>
#include <string>

namespace dm::cli {
namespace {

// The message for `input` outside [min, max], or "" inside. Text that is no whole number is
// left to CLI11's conversion, which names the expected type.
std::string outside(const std::string& input, std::int64_t min, std::int64_t max, const std::string& rule) {
  std::int64_t value = 0;
  const char* begin = input.data();
  const char* end = input.data() + input.size();
  const auto [stop, ec] = std::from_chars(begin, end, value);
  if (ec == std::errc::result_out_of_range) return rule + " (this is out of range), got " + input;
  if (ec != std::errc() || stop != end) return "";
  return value < min || value > max ? rule + ", got " + input : "";
}

}  // namespace

CLI::Validator positive_integer() {
  return CLI::Validator([](std::string& input) { return outside(input, 1, INT64_MAX, "must be > 0"); }, "> 0");
}

CLI::Validator integer_in(std::int64_t min, std::int64_t max) {
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  return CLI::Validator([=](std::string& input) { return outside(input, min, max, "must lie in " + range); }, "in " + range);
}

}  // namespace dm::cli
