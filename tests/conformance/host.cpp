// Host tensors and their views, written as plain index arithmetic.
#include "host.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace dm::conformance {

std::int64_t numel_of(const Dims& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

Dims unravel(std::int64_t flat, const Dims& shape) {
  Dims index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

std::int64_t ravel(const Dims& index, const Dims& shape) {
  std::int64_t flat = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

std::string dims_str(const Dims& shape) {
  std::string s = "(";
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d > 0) s += ',';
    s += std::to_string(shape[d]);
  }
  return s + ")";
}

double Host::at(const Dims& index) const { return v[static_cast<std::size_t>(ravel(index, shape))]; }
double& Host::at(const Dims& index) { return v[static_cast<std::size_t>(ravel(index, shape))]; }

namespace {

// Round-to-nearest-even of an f32 to its top 16 bits, NaN kept a NaN.
double round_bf16(double value) {
  const float f = static_cast<float>(value);
  if (std::isnan(f)) return f;
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  const std::uint32_t lower = u & 0xffffu;
  std::uint32_t upper = u >> 16;
  if (lower > 0x8000u || (lower == 0x8000u && (upper & 1u))) ++upper;
  u = upper << 16;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

double wrap(double value, double modulus, bool is_signed) {
  double r = std::fmod(value, modulus);
  if (r < 0) r += modulus;
  if (is_signed && r >= modulus / 2) r -= modulus;
  return r;
}

// splitmix64: a fixed stream per seed, independent of the library's generator.
struct Stream {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::int64_t integer(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
};

}  // namespace

double round_to(DType t, double value) {
  switch (t) {
    case DType::f64:
      return value;
    case DType::f32:
      return static_cast<float>(value);
    case DType::bf16:
      return round_bf16(value);
    case DType::i32:
      return wrap(value, 4294967296.0, true);
    case DType::i64:
      return value;
    case DType::u8:
      return wrap(value, 256.0, false);
    case DType::boolean:
      return value != 0.0 ? 1.0 : 0.0;
  }
  return value;
}

Host make_values(DType t, const Dims& shape, Values kind, std::uint64_t seed) {
  Host h{shape, t, std::vector<double>(static_cast<std::size_t>(numel_of(shape)))};
  Stream s{seed * 7919 + 17};
  static const double kEdge[] = {0.0,
                                 -0.0,
                                 std::numeric_limits<double>::infinity(),
                                 -std::numeric_limits<double>::infinity(),
                                 std::numeric_limits<double>::quiet_NaN(),
                                 1.0,
                                 -1.5,
                                 30.0,
                                 -30.0,
                                 100.0,
                                 -100.0,
                                 1e-30,
                                 0.5,
                                 -2.0};
  static const double kTies[] = {-1.0, 0.0, 0.5, 1.0, 2.0};
  for (std::size_t i = 0; i < h.v.size(); ++i) {
    double x = 0.0;
    if (t == DType::boolean) {
      x = static_cast<double>(s.integer(0, 1));
    } else if (is_integral(t)) {
      const bool u = t == DType::u8;
      switch (kind) {
        case Values::positive:
          x = static_cast<double>(s.integer(1, 8));
          break;
        case Values::ties:
          x = static_cast<double>(s.integer(u ? 0 : -2, 2));
          break;
        default:
          x = static_cast<double>(s.integer(u ? 0 : -4, u ? 8 : 4));
          break;
      }
    } else {
      switch (kind) {
        case Values::general:
          x = -2.0 + 4.0 * s.uniform();
          break;
        case Values::positive:
          x = 0.1 + 2.9 * s.uniform();
          break;
        case Values::ties:
          x = kTies[s.next() % 5];
          break;
        case Values::edge:
          x = kEdge[i % (sizeof kEdge / sizeof kEdge[0])];
          break;
      }
    }
    h.v[i] = round_to(t, x);
  }
  return h;
}

Tensor to_tensor(const Host& h) {
  Shape shape(h.shape);
  return Tensor::from_vector<double>(h.v, shape).to(h.dtype);
}

Host permute(const Host& h, const Dims& order) {
  Dims shape(order.size());
  for (std::size_t d = 0; d < order.size(); ++d) shape[d] = h.shape[static_cast<std::size_t>(order[d])];
  Host r{shape, h.dtype, std::vector<double>(h.v.size())};
  for (std::int64_t i = 0; i < r.numel(); ++i) {
    const Dims out = unravel(i, shape);
    Dims in(order.size());
    for (std::size_t d = 0; d < order.size(); ++d) in[static_cast<std::size_t>(order[d])] = out[d];
    r.v[static_cast<std::size_t>(i)] = h.at(in);
  }
  return r;
}

Host transpose(const Host& h, int d0, int d1) {
  Dims order(h.shape.size());
  for (std::size_t d = 0; d < order.size(); ++d) order[d] = static_cast<std::int64_t>(d);
  std::swap(order[static_cast<std::size_t>(d0)], order[static_cast<std::size_t>(d1)]);
  return permute(h, order);
}

Host slice(const Host& h, int dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  Dims shape = h.shape;
  const auto d = static_cast<std::size_t>(dim);
  shape[d] = end > start ? (end - start + step - 1) / step : 0;
  Host r{shape, h.dtype, std::vector<double>(static_cast<std::size_t>(numel_of(shape)))};
  for (std::int64_t i = 0; i < r.numel(); ++i) {
    Dims in = unravel(i, shape);
    in[d] = start + in[d] * step;
    r.v[static_cast<std::size_t>(i)] = h.at(in);
  }
  return r;
}

Dims broadcast(const Dims& a, const Dims& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Dims r(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (x != y && x != 1 && y != 1) throw std::logic_error("shapes do not broadcast");
    r[i] = x == 1 ? y : x;
  }
  return r;
}

double broadcast_at(const Host& h, const Dims& index) {
  const std::size_t lead = index.size() - h.shape.size();
  Dims in(h.shape.size());
  for (std::size_t d = 0; d < in.size(); ++d) in[d] = h.shape[d] == 1 ? 0 : index[d + lead];
  return h.at(in);
}

Host expand(const Host& h, const Dims& shape) {
  Host r{shape, h.dtype, std::vector<double>(static_cast<std::size_t>(numel_of(shape)))};
  for (std::int64_t i = 0; i < r.numel(); ++i) r.v[static_cast<std::size_t>(i)] = broadcast_at(h, unravel(i, shape));
  return r;
}

Host reshape(const Host& h, const Dims& shape) { return Host{shape, h.dtype, h.v}; }

std::vector<Layout> layouts_3x4() {
  return {
      {"contiguous (3,4)", {3, 4}, [](const Tensor& t) { return t; }, [](const Host& h) { return h; }},
      {"transposed (4,3).t()",
       {4, 3},
       [](const Tensor& t) { return t.t(); },
       [](const Host& h) { return transpose(h, 0, 1); }},
      {"strided (3,8)[:,1::2]",
       {3, 8},
       [](const Tensor& t) { return t.slice(1, 1, 8, 2); },
       [](const Host& h) { return slice(h, 1, 1, 8, 2); }},
      {"narrow (5,4).narrow(0,1,3)",
       {5, 4},
       [](const Tensor& t) { return t.narrow(0, 1, 3); },
       [](const Host& h) { return slice(h, 0, 1, 4, 1); }},
      {"expanded (1,4)->(3,4)",
       {1, 4},
       [](const Tensor& t) {
         return t.expand({3, 4});
       },
       [](const Host& h) {
         return expand(h, {3, 4});
       }},
      {"permuted (4,2,3)->(3,4)",
       {4, 2, 3},
       [](const Tensor& t) {
         return t.permute({2, 0, 1}).select(2, 1);
       },
       [](const Host& h) {
         const Host p = permute(h, {2, 0, 1});
         return reshape(slice(p, 2, 1, 2, 1), {3, 4});
       }},
  };
}

Layout layout_scalar() {
  return {"scalar ()",
          {1},
          [](const Tensor& t) { return t.reshape(Shape{}); },
          [](const Host& h) { return reshape(h, {}); }};
}

Layout layout_empty() {
  return {"empty (0,4)", {0, 4}, [](const Tensor& t) { return t; }, [](const Host& h) { return h; }};
}

Layout layout_contiguous(const Dims& shape) {
  return {"contiguous " + dims_str(shape), shape, [](const Tensor& t) { return t; }, [](const Host& h) { return h; }};
}

Tensor input_on(const Host& base, const Layout& layout, Device device) {
  return layout.view(to_tensor(base).to(device));
}

}  // namespace dm::conformance
