// CPU kernels: strided copies with dtype conversion, fills, and the fused activation
// backward passes.
#include <cmath>
#include <cstring>

#include "backend/cpu/elementwise.hpp"
#include "base/dispatch.hpp"
#include "backend/strided_loop.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

// Whether every element of `out` lies in one dense block in row-major order.
bool is_dense(const Output& out) {
  std::int64_t expected = 1;
  for (int d = out.shape.size() - 1; d >= 0; --d) {
    if (out.shape[d] != 1 && out.strides[d] != expected) return false;
    expected *= out.shape[d];
  }
  return true;
}

}  // namespace

void copy(const Output& out, const Operand& src) {
  const bool same_dtype = out.dtype == src.dtype;
  StridedPlan<2> plan(out.shape, {&out.strides, &src.strides});
  dispatch_dtype(out.dtype, [&]<class D>(TypeTag<D>) {
    D* dst = reinterpret_cast<D*>(out.data);
    dispatch_dtype(src.dtype, [&]<class S>(TypeTag<S>) {
      const S* in = reinterpret_cast<const S*>(src.data);
      parallel_runs(plan, [&](const auto& off, std::int64_t n, const auto& inner) {
        D* o = dst + off[0];
        const S* s = in + off[1];
        if (same_dtype && inner[0] == 1 && inner[1] == 1) {
          std::memcpy(static_cast<void*>(o), s, static_cast<std::size_t>(n) * sizeof(D));
        } else if (inner[0] == 1 && inner[1] == 1) {
          for (std::int64_t i = 0; i < n; ++i) o[i] = convert<D>(s[i]);
        } else {
          for (std::int64_t i = 0; i < n; ++i) o[i * inner[0]] = convert<D>(s[i * inner[1]]);
        }
      });
    });
  });
}

void fill(const Output& out, double value) {
  // +0.0 is all-zero bytes in every dtype: a dense block is cleared with memset.
  if (value == 0.0 && !std::signbit(value) && is_dense(out)) {
    std::byte* p = out.data;
    const std::int64_t bytes = out.shape.numel() * static_cast<std::int64_t>(itemsize(out.dtype));
    par_for(bytes, std::int64_t{1} << 20,
            [&](std::int64_t b, std::int64_t e) { std::memset(p + b, 0, static_cast<std::size_t>(e - b)); });
    return;
  }
  StridedPlan<1> plan(out.shape, {&out.strides});
  dispatch_dtype(out.dtype, [&]<class T>(TypeTag<T>) {
    const T v = convert<T>(value);
    T* dst = reinterpret_cast<T*>(out.data);
    parallel_runs(plan, [&](const auto& off, std::int64_t n, const auto& inner) {
      T* o = dst + off[0];
      if (inner[0] == 1) {
        for (std::int64_t i = 0; i < n; ++i) o[i] = v;
      } else {
        for (std::int64_t i = 0; i < n; ++i) o[i * inner[0]] = v;
      }
    });
  });
}

namespace {

// dx[i] = grad_of(g[i], x[i], y[i]) over flat arrays, in parallel blocks.
template <class T, class GradOf>
void pointwise(const T* gp, const T* xp, const T* yp, T* dxp, std::int64_t n, GradOf grad_of) {
  // Captured by value and restrict-qualified: a store through dx could otherwise be a store
  // to the captured pointers themselves, and the compiler would reload them every element
  // instead of vectorising (dx is fresh storage, so nothing aliases it).
  par_for(n, 1 << 15, [=](std::int64_t b, std::int64_t e) {
    const T* __restrict g = gp;
    const T* __restrict x = xp;
    const T* __restrict y = yp;
    T* __restrict o = dxp;
    for (std::int64_t i = b; i < e; ++i) o[i] = grad_of(g[i], x[i], y[i]);
  });
}

}  // namespace

void unary_backward(UnaryGradOp op, DType dtype, const std::byte* g, const std::byte* x, const std::byte* y,
                    std::byte* dx, std::int64_t n) {
  dispatch_float(dtype, "backward", [&]<class T>(TypeTag<T>) {
    const T* gp = reinterpret_cast<const T*>(g);
    const T* xp = reinterpret_cast<const T*>(x);
    const T* yp = reinterpret_cast<const T*>(y);
    T* o = reinterpret_cast<T*>(dx);
    switch (op) {
      case UnaryGradOp::relu:
        // A select (torch's threshold_backward: 0 where y <= 0, even for an infinite g, and g
        // where y is NaN), which vectorises; which units are active is a coin toss a branch
        // would keep mispredicting.
        return pointwise(gp, xp, yp, o, n, [](T gi, T, T yi) { return yi <= 0 ? T(0) : gi; });
      case UnaryGradOp::sigmoid:
        return pointwise(gp, xp, yp, o, n, [](T gi, T, T yi) { return gi * (yi * (T(1) - yi)); });
      case UnaryGradOp::tanh:
        return pointwise(gp, xp, yp, o, n, [](T gi, T, T yi) { return gi * (T(1) - yi * yi); });
      case UnaryGradOp::gelu:
        // d/dx x*Phi(x) = Phi(x) + x*phi(x). Below -40 both terms are 0; clamping x there keeps
        // -inf * phi(-inf) = -inf * 0 from turning the limit 0 at -inf into NaN, as the forward does.
        return pointwise(gp, xp, yp, o, n, [](T gi, T x, T) {
          const T xc = x < T(-40) ? T(-40) : x;
          const T cdf = T(0.5) * (T(1) + std::erf(xc * T(M_SQRT1_2)));
          const T pdf = std::exp(T(-0.5) * xc * xc) * T(0.3989422804014327);
          return gi * (cdf + xc * pdf);
        });
    }
  });
}

}  // namespace dm::cpu
