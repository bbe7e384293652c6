#pragma once
// CLI11 checks whose messages read well. CLI11's own PositiveNumber prints its range with
// std::to_string(DBL_MAX): three hundred digits for "must be positive".
#include <cstdint>

#include <CLI/CLI.hpp>

namespace dm::cli {

/// A whole number > 0: "must be > 0, got -3".
CLI::Validator positive_integer();
/// A whole number in [min, max]: "must lie in [1, 65536], got 0".
CLI::Validator integer_in(std::int64_t min, std::int64_t max);

}  // namespace dm::cli
