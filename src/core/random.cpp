// Random creators. A draw of n values claims a range of Philox counters from the global
// generator; value i depends only on (seed, range start, i), so filling in parallel blocks
// gives the same tensor for every thread count.
#include "democratising/core/random.hpp"

#include <atomic>
#include <mutex>
#include <string>

#include "democratising/base/checked.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "backend/backend.hpp"
#include "tensor_impl.hpp"

namespace dm {
namespace {

constexpr std::uint64_t kDefaultSeed = 0x853c49e6748fea9bULL;

struct Generator {
  std::mutex mutex;
  std::uint64_t seed = kDefaultSeed;
  std::uint64_t offset = 0;

  /// Claims `blocks` counters; returns (seed, first counter).
  std::pair<std::uint64_t, std::uint64_t> claim(std::uint64_t blocks) {
    std::lock_guard lock(mutex);
    const std::uint64_t start = offset;
    offset += blocks;
    return {seed, start};
  }
};

Generator& generator() {
  static Generator g;
  return g;
}

// This thread's own stream, while a ThreadGeneratorScope lives on it.
thread_local GeneratorState* thread_stream = nullptr;

/// Claims `blocks` counters from this thread's stream, else from the global generator.
std::pair<std::uint64_t, std::uint64_t> claim(std::uint64_t blocks) {
  if (GeneratorState* s = thread_stream) {
    const std::uint64_t start = s->offset;
    s->offset += blocks;
    return {s->seed, start};
  }
  return generator().claim(blocks);
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void require_float(DType dtype, const char* op) {
  if (!is_floating(dtype))
    throw DTypeError(std::string("[") + op + "] needs a floating dtype, got " + std::string(dtype_name(dtype)));
}

/// Counters for n values drawn `per_block` to a block.
std::uint64_t blocks_for(std::int64_t n, int per_block) {
  return static_cast<std::uint64_t>(ceil_div(n, per_block));
}

std::byte* bytes_of(const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); }

}  // namespace

void manual_seed(std::uint64_t seed) {
  std::lock_guard lock(generator().mutex);
  generator().seed = seed;
  generator().offset = 0;
}

GeneratorState generator_state() {
  std::lock_guard lock(generator().mutex);
  return {generator().seed, generator().offset};
}

void set_generator_state(GeneratorState s) {
  std::lock_guard lock(generator().mutex);
  generator().seed = s.seed;
  generator().offset = s.offset;
}

GeneratorState advance_generator(std::uint64_t counters) {
  const auto [seed, start] = generator().claim(counters);
  return {seed, start};
}

std::uint64_t derive_seed(GeneratorState state, std::uint64_t index) {
  return splitmix64(splitmix64(splitmix64(state.seed) ^ state.offset) ^ index);
}

ThreadGeneratorScope::ThreadGeneratorScope(GeneratorState state) : state_(state), previous_(thread_stream) {
  thread_stream = &state_;
}

ThreadGeneratorScope::~ThreadGeneratorScope() { thread_stream = previous_; }

Tensor Tensor::randn(const Shape& shape, DType dtype, Device device) {
  require_float(dtype, "randn");
  const std::int64_t n = shape.numel();
  Tensor t = make_tensor(shape, dtype == DType::bf16 ? DType::f32 : dtype, device);
  auto [seed, start] = claim(blocks_for(n, t.dtype() == DType::f64 ? 2 : 4));
  backend::backend_for(device).random_normal(bytes_of(t), t.dtype(), n, seed, start, 0.0, 1.0);
  return dtype == DType::bf16 ? t.to(DType::bf16) : t;
}

Tensor Tensor::rand(const Shape& shape, DType dtype, Device device) {
  require_float(dtype, "rand");
  const std::int64_t n = shape.numel();
  Tensor t = make_tensor(shape, dtype == DType::bf16 ? DType::f32 : dtype, device);
  auto [seed, start] = claim(blocks_for(n, t.dtype() == DType::f64 ? 2 : 4));
  backend::backend_for(device).random_uniform(bytes_of(t), t.dtype(), n, seed, start, 0.0, 1.0);
  return dtype == DType::bf16 ? t.to(DType::bf16) : t;
}

Tensor Tensor::randint(std::int64_t low, std::int64_t high, const Shape& shape, DType dtype) {
  if (high <= low)
    throw ValueError("[randint] needs low < high, got [" + std::to_string(low) + ", " + std::to_string(high) + ")");
  const std::int64_t n = shape.numel();
  Tensor t = make_tensor(shape, DType::i64, Device::cpu());
  auto [seed, start] = claim(blocks_for(n, 2));
  backend::backend_for(Device::cpu()).random_int(t.data<std::int64_t>(), n, seed, start, low, high);
  return dtype == DType::i64 ? t : t.to(dtype);
}

}  // namespace dm
