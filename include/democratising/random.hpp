#pragma once
// Random numbers come from a counter-based generator (Philox 4x32-10): element i of a draw is
// a pure function of (seed, draw offset, i), so results do not depend on the thread count.
#include <cstdint>

namespace dm {

/// Seeds the global generator and resets its offset.
void manual_seed(std::uint64_t seed);

/// The global generator's state: each draw of n values advances `offset`.
struct GeneratorState {
  std::uint64_t seed;
  std::uint64_t offset;
};
GeneratorState generator_state();
void set_generator_state(GeneratorState s);

}  // namespace dm
