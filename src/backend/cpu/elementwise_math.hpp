#pragma once
// Vectorised f32 maths for the elementwise kernels: exp, tanh, sigmoid and the exact (erf)
// GELU, written on GCC vector types so that one definition compiles to AVX2 (8 lanes) or
// SSE2 (4 lanes) depending on the function that inlines it. libm's expf/tanhf/erff are scalar
// calls; these run a lane per float with selects instead of branches.
//
// Accuracy (checked by the tests against the f64 libm functions): a few ulp for exp, tanh and
// sigmoid, and within PyTorch's f32 tolerance (rtol 1.3e-6, atol 1e-5) for gelu.
// Polynomial coefficients are least-squares fits (relative error) made for this file.
#include <cstdint>
#include <limits>
#include <type_traits>

// These vectors only ever cross always-inlined calls, so GCC's AVX ABI warning does not
// apply. (Vector parameters are taken by reference: the ABI note GCC prints for by-value
// 32-byte parameters ignores this pragma.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu::vmath {

template <class T, int Bytes>
struct VecOf {
  typedef T type __attribute__((vector_size(Bytes)));
};
/// A GCC vector of `Bytes / sizeof(T)` lanes of T.
template <class T, int Bytes>
using Vec = typename VecOf<T, Bytes>::type;

template <class V>
using IntVec = Vec<std::int32_t, sizeof(V)>;

/// Every lane `s`. Written s - 0 rather than 0 + s: +0 + -0 is +0, which would turn a -0.0
/// operand into +0.0 (and `x / -0.0` into +inf), while s - (+0) is s for every s, -0 included.
template <class V, class S>
[[gnu::always_inline]] inline V splat(S s) {
  using Lane = std::remove_cvref_t<decltype(V{}[0])>;
  return static_cast<Lane>(s) - V{};
}

/// |x| for f32 or f64 lanes: clears the sign bit.
template <class V>
[[gnu::always_inline]] inline V abs(const V& x) {
  using Lane = std::remove_cvref_t<decltype(x[0])>;
  using Bits = std::conditional_t<sizeof(Lane) == 4, std::int32_t, std::int64_t>;
  using BitsVec = Vec<Bits, sizeof(V)>;
  return reinterpret_cast<V>(reinterpret_cast<BitsVec>(x) & std::numeric_limits<Bits>::max());
}

/// e^x. Range reduction x = n ln2 + r with |r| <= ln2/2, a degree-7 Taylor polynomial for e^r
/// (truncation error < 6e-9), then scaling by 2^n in two halves so that results in the
/// subnormal range and overflow to infinity come out right without a branch.
template <class V>
[[gnu::always_inline]] inline V exp(const V& in) {
  using VI = IntVec<V>;
  V x = in;
  x = x < splat<V>(-104.0f) ? splat<V>(-104.0f) : x;  // below this e^x rounds to 0 (NaN passes)
  x = x > splat<V>(88.8f) ? splat<V>(88.8f) : x;      // above this e^x is inf
  // Adding 1.5 * 2^23 rounds x*log2(e) to an integer held in the low mantissa bits.
  const V magic = splat<V>(12582912.0f);
  V fn = x * 1.44269504088896341f + magic;
  const VI n = reinterpret_cast<VI>(fn) - reinterpret_cast<VI>(magic);
  fn = fn - magic;
  // ln2 split into a part with few mantissa bits (so fn * hi is exact) and the remainder.
  V r = x - fn * 0.693359375f;
  r = r + fn * 2.12194440e-4f;
  V p = splat<V>(1.0f / 5040.0f);
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const VI n1 = n >> 1, n2 = n - n1;  // |n1|, |n2| <= 75 keep both factors normal
  const V scale1 = reinterpret_cast<V>((n1 + 127) << 23);
  const V scale2 = reinterpret_cast<V>((n2 + 127) << 23);
  return p * scale1 * scale2;
}

/// 1 / (1 + e^-x): e^-x overflowing to inf gives exactly 0, as it should.
template <class V>
[[gnu::always_inline]] inline V sigmoid(const V& x) {
  return splat<V>(1.0f) / (splat<V>(1.0f) + exp(-x));
}

/// tanh x. Near 0, 1 - 2/(e^2x + 1) cancels, so |x| < 0.625 uses x * P(x^2) (fit error 1.2e-8).
template <class V>
[[gnu::always_inline]] inline V tanh(const V& x) {
  using VI = IntVec<V>;
  const V ax = abs(x);
  const V u = x * x;
  V p = splat<V>(-0.005759556312114f);
  p = p * u + 0.020680610090494156f;
  p = p * u - 0.05374900996685028f;
  p = p * u + 0.13331478834152222f;
  p = p * u - 0.33333274722099304f;
  p = p * u + 1.0f;
  const V small = x * p;
  V large = splat<V>(1.0f) - splat<V>(2.0f) / (exp(ax + ax) + 1.0f);
  const VI sign = reinterpret_cast<VI>(x) & static_cast<std::int32_t>(0x80000000u);
  large = reinterpret_cast<V>(reinterpret_cast<VI>(large) | sign);
  return ax < splat<V>(0.625f) ? small : large;
}

/// x * Phi(x), Phi the standard normal CDF = erfc(-x / sqrt 2) / 2.
/// |z| < 1 (z = x / sqrt 2): Phi = 1/2 + z E(z^2) / 2, E fitting erf(z)/z (error 4e-9).
/// |z| >= 1: erfc|z| = e^(-z^2) t F(t), t = 1/|z|, F fitting z e^(z^2) erfc z on t in [0.1, 1]
/// (error 3.5e-8; beyond |z| = 10 the factor e^(-z^2) is 0 in f32 anyway). Using erfc there
/// keeps the far negative tail accurate instead of cancelling 1 + erf.
template <class V>
[[gnu::always_inline]] inline V gelu(const V& x) {
  const V z = x * 0.70710678118654752f;
  const V az = abs(z);
  V e = splat<V>(7.971125887706876e-05f);
  const V u = z * z;
  e = e * u - 0.000804339477326721f;
  e = e * u + 0.005191835109144449f;
  e = e * u - 0.026855509728193283f;
  e = e * u + 0.11283621937036514f;
  e = e * u - 0.3761262893676758f;
  e = e * u + 1.1283791065216064f;
  const V phi_small = splat<V>(0.5f) + splat<V>(0.5f) * z * e;

  const V t = splat<V>(1.0f) / az;
  const V s = (t - 0.55f) * (1.0f / 0.45f);
  V f = splat<V>(1.7259422747883946e-05f);
  f = f * s - 1.516974953119643e-05f;
  f = f * s - 7.005486259004101e-05f;
  f = f * s + 0.000174931381479837f;
  f = f * s - 0.00022809179790783674f;
  f = f * s + 8.234181586885825e-05f;
  f = f * s + 0.0009207658586092293f;
  f = f * s - 0.003974802326411009f;
  f = f * s + 0.008962740190327168f;
  f = f * s - 0.004123960621654987f;
  f = f * s - 0.0765158012509346f;
  f = f * s + 0.5023534297943115f;
  const V erfc_az = exp(-u) * t * f;
  const V half_erfc = splat<V>(0.5f) * erfc_az;
  const V phi_large = x >= splat<V>(0.0f) ? splat<V>(1.0f) - half_erfc : half_erfc;

  const V phi = az < splat<V>(1.0f) ? phi_small : phi_large;
  // Below -20, Phi is 0; clamping x keeps -inf * 0 from turning into NaN.
  const V xc = x < splat<V>(-20.0f) ? splat<V>(-20.0f) : x;
  return xc * phi;
}

}  // namespace dm::cpu::vmath

#pragma GCC diagnostic pop
