// Random creators. A draw of n values claims a range of Philox counters from the global
// generator; value i depends only on (seed, range start, i), so filling in parallel blocks
// gives the same tensor for every thread count.
#include "democratising/random.hpp"

#include <atomic>
#include <cmath>
#include <mutex>
#include <string>

#include "democratising/checked.hpp"
#include "democratising/error.hpp"
#include "democratising/runtime.hpp"
#include "democratising/tensor.hpp"
#include "dispatch.hpp"
#include "philox.hpp"
#include "tensor_impl.hpp"

namespace dm {
namespace {

__extension__ typedef unsigned __int128 u128;

constexpr std::uint64_t kDefaultSeed = 0x853c49e6748fea9bULL;
constexpr std::int64_t kRandomGrain = 1 << 16;

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

constexpr float kTwoPi = 6.283185307179586f;

inline float uniform_f32(std::uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }
inline double uniform_f64(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(((std::uint64_t{hi} << 32) | lo) >> 11) * 0x1.0p-53;
}

void require_float(DType dtype, const char* op) {
  if (!is_floating(dtype))
    throw DTypeError(std::string("[") + op + "] needs a floating dtype, got " + std::string(dtype_name(dtype)));
}

void require_cpu(Device device, const char* op) {
  if (!device.is_cpu()) throw DeviceError(std::string("[") + op + "] is not available on " + device.str() + " yet");
}

// Fills n values: per(block, lanes, out) writes up to `per_block` values from one counter.
template <class T, int PerBlock, class Gen>
void fill_blocks(T* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, Gen&& gen) {
  const std::int64_t blocks = ceil_div(n, PerBlock);
  par_for(blocks, kRandomGrain / PerBlock, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      T vals[PerBlock];
      gen(philox::generate(start + static_cast<std::uint64_t>(b), seed), vals);
      const std::int64_t base = b * PerBlock;
      for (int k = 0; k < PerBlock && base + k < n; ++k) out[base + k] = vals[k];
    }
  });
}

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
  require_cpu(device, "randn");
  const std::int64_t n = shape.numel();
  Tensor t = make_tensor(shape, dtype == DType::bf16 ? DType::f32 : dtype, device);
  if (t.dtype() == DType::f64) {
    auto [seed, start] = claim(static_cast<std::uint64_t>(ceil_div(n, 2)));
    fill_blocks<double, 2>(t.data<double>(), n, seed, start, [](const philox::Block& r, double* v) {
      const double u1 = 1.0 - uniform_f64(r[0], r[1]);  // (0, 1]: log stays finite
      const double u2 = uniform_f64(r[2], r[3]);
      const double rad = std::sqrt(-2.0 * std::log(u1));
      v[0] = rad * std::cos(2.0 * M_PI * u2);
      v[1] = rad * std::sin(2.0 * M_PI * u2);
    });
  } else {
    auto [seed, start] = claim(static_cast<std::uint64_t>(ceil_div(n, 4)));
    fill_blocks<float, 4>(t.data<float>(), n, seed, start, [](const philox::Block& r, float* v) {
      for (int p = 0; p < 2; ++p) {
        const float u1 = 1.0f - uniform_f32(r[2 * p]);
        const float u2 = uniform_f32(r[2 * p + 1]);
        const float rad = std::sqrt(-2.0f * std::log(u1));
        v[2 * p] = rad * std::cos(kTwoPi * u2);
        v[2 * p + 1] = rad * std::sin(kTwoPi * u2);
      }
    });
  }
  return dtype == DType::bf16 ? t.to(DType::bf16) : t;
}

Tensor Tensor::rand(const Shape& shape, DType dtype, Device device) {
  require_float(dtype, "rand");
  require_cpu(device, "rand");
  const std::int64_t n = shape.numel();
  Tensor t = make_tensor(shape, dtype == DType::bf16 ? DType::f32 : dtype, device);
  if (t.dtype() == DType::f64) {
    auto [seed, start] = claim(static_cast<std::uint64_t>(ceil_div(n, 2)));
    fill_blocks<double, 2>(t.data<double>(), n, seed, start, [](const philox::Block& r, double* v) {
      v[0] = uniform_f64(r[0], r[1]);
      v[1] = uniform_f64(r[2], r[3]);
    });
  } else {
    auto [seed, start] = claim(static_cast<std::uint64_t>(ceil_div(n, 4)));
    fill_blocks<float, 4>(t.data<float>(), n, seed, start, [](const philox::Block& r, float* v) {
      for (int k = 0; k < 4; ++k) v[k] = uniform_f32(r[k]);
    });
  }
  return dtype == DType::bf16 ? t.to(DType::bf16) : t;
}

Tensor Tensor::randint(std::int64_t low, std::int64_t high, const Shape& shape, DType dtype) {
  if (high <= low)
    throw ValueError("[randint] needs low < high, got [" + std::to_string(low) + ", " + std::to_string(high) + ")");
  const std::int64_t n = shape.numel();
  const auto range = static_cast<u128>(static_cast<std::uint64_t>(high - low));
  Tensor t = make_tensor(shape, DType::i64, Device::cpu());
  auto [seed, start] = claim(static_cast<std::uint64_t>(ceil_div(n, 2)));
  fill_blocks<std::int64_t, 2>(t.data<std::int64_t>(), n, seed, start, [&](const philox::Block& r, std::int64_t* v) {
    for (int k = 0; k < 2; ++k) {
      const std::uint64_t bits = (std::uint64_t{r[2 * k]} << 32) | r[2 * k + 1];
      v[k] = low + static_cast<std::int64_t>((bits * range) >> 64);  // Lemire's multiply-shift
    }
  });
  return dtype == DType::i64 ? t : t.to(dtype);
}

}  // namespace dm
