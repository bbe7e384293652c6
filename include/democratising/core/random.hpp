#pragma once
// Random numbers come from a counter-based generator (Philox 4x32-10): element i of a draw is
// a pure function of (seed, draw offset, i), so results do not depend on the thread count.
#include <cstdint>

namespace dm {

/// Seeds the global generator and resets its offset.
void manual_seed(std::uint64_t seed);

/// The global generator's state: each draw of n values advances `offset`.
struct GeneratorState {
  /// The seed of the stream.
  std::uint64_t seed;
  /// How many counters earlier draws have used.
  std::uint64_t offset;
};
GeneratorState generator_state();
void set_generator_state(GeneratorState s);

/// Claims `counters` counters of the global generator, as a draw would; returns its state
/// before the claim.
GeneratorState advance_generator(std::uint64_t counters);

/// A seed for stream `index` derived from `state`: a different, well-mixed seed for every
/// (state, index), so streams made from one state do not overlap.
std::uint64_t derive_seed(GeneratorState state, std::uint64_t index);

/// While it lives, the draws made on this thread come from a stream of its own that starts at
/// `state`, and leave the global generator alone. Work split into fixed pieces gives each
/// piece one (data-parallel shards do), so what a piece draws does not depend on which thread
/// runs it, or in which order.
class ThreadGeneratorScope {
 public:
  /// Draws on this thread come from a stream starting at `state` until the scope ends.
  explicit ThreadGeneratorScope(GeneratorState state);
  ~ThreadGeneratorScope();
  ThreadGeneratorScope(const ThreadGeneratorScope&) = delete;
  ThreadGeneratorScope& operator=(const ThreadGeneratorScope&) = delete;
  /// Where the stream is now.
  GeneratorState state() const { return state_; }

 private:
  GeneratorState state_;
  GeneratorState* previous_;
};

}  // namespace dm
