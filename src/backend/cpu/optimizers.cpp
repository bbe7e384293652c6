// CPU kernels of the optimizer steps over flat buffers, element by element as PyTorch 1.13's
// single-tensor torch.optim.SGD / Adam / AdamW compute them:
//   SGD:  d = g + weight_decay * p
//         buf = d on a parameter's first step, else buf * momentum + (1 - dampening) * d
//         d = nesterov ? d + momentum * buf : buf;   p = p + (-lr) * d
//   Adam: (AdamW: p *= 1 - lr * weight_decay; Adam: g += weight_decay * p)
//         m = m * beta1 + (1 - beta1) * g;  v = v * beta2 + (1 - beta2) * g * g
//         p = p + -(lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - beta_i^t
// Scalars are rounded to the parameter's dtype first, as torch does for a float tensor. The
// work is split into fixed blocks; each element's arithmetic does not depend on the split.
#include <cmath>

#include "backend/cpu/training_kernels.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

/// Elements per parallel block of an update (a few L1-sized chunks of every operand).
constexpr std::int64_t kUpdateBlock = std::int64_t{1} << 14;

template <class T>
struct SgdScalars {
  T neg_lr, momentum, one_minus_dampening, weight_decay;
  bool nesterov;
};

// p, g: (n) contiguous.
template <class T>
void sgd_plain(T* p, const T* g, std::int64_t n, const SgdScalars<T>& s) {
  const bool decay = s.weight_decay != T(0);
  for (std::int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (decay) d = d + s.weight_decay * p[i];
    p[i] = p[i] + s.neg_lr * d;
  }
}

// p, g, buf: (n) contiguous; `first` = the parameter's first step (buf is then overwritten).
template <class T>
void sgd_momentum(T* p, const T* g, T* buf, std::int64_t n, const SgdScalars<T>& s, bool first) {
  const bool decay = s.weight_decay != T(0);
  for (std::int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (decay) d = d + s.weight_decay * p[i];
    T b = d;
    if (!first) {
      b = buf[i] * s.momentum;
      b = b + s.one_minus_dampening * d;
    }
    buf[i] = b;
    d = s.nesterov ? d + s.momentum * b : b;
    p[i] = p[i] + s.neg_lr * d;
  }
}

template <class T>
struct AdamScalars {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, weight_decay, decay_factor, neg_step_size, bias_correction2_sqrt,
      eps;
  bool decoupled;
};

template <class T>
AdamScalars<T> adam_scalars(const backend::AdamStep& o) {
  const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(o.t));
  const double bias_correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(o.t));
  return {static_cast<T>(o.beta1),
          static_cast<T>(1.0 - o.beta1),
          static_cast<T>(o.beta2),
          static_cast<T>(1.0 - o.beta2),
          static_cast<T>(o.weight_decay),
          static_cast<T>(1.0 - o.lr * o.weight_decay),
          static_cast<T>(-(o.lr / bias_correction1)),
          static_cast<T>(std::sqrt(bias_correction2)),
          static_cast<T>(o.eps),
          o.decoupled};
}

// p, g, m, v: (n) contiguous.
template <class T>
void adam_update(T* p, const T* g, T* m, T* v, std::int64_t n, const AdamScalars<T>& s) {
  const bool l2 = !s.decoupled && s.weight_decay != T(0);
  for (std::int64_t i = 0; i < n; ++i) {
    T pi = p[i];
    T gi = g[i];
    if (s.decoupled) pi = pi * s.decay_factor;
    if (l2) gi = gi + s.weight_decay * pi;
    T mi = m[i] * s.beta1;
    mi = mi + s.one_minus_beta1 * gi;
    T vi = v[i] * s.beta2;
    vi = vi + s.one_minus_beta2 * gi * gi;
    const T denom = std::sqrt(vi) / s.bias_correction2_sqrt + s.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + s.neg_step_size * mi / denom;
  }
}

}  // namespace

void sgd_step(DType dtype, std::byte* p, const std::byte* g, std::byte* buf, std::int64_t n,
              const backend::SgdStep& step) {
  dispatch_float(dtype, "sgd", [&]<class T>(TypeTag<T>) {
    const SgdScalars<T> s{static_cast<T>(-step.lr), static_cast<T>(step.momentum),
                          static_cast<T>(1.0 - step.dampening), static_cast<T>(step.weight_decay), step.nesterov};
    T* pp = reinterpret_cast<T*>(p);
    const T* gp = reinterpret_cast<const T*>(g);
    T* bp = reinterpret_cast<T*>(buf);
    const bool momentum = step.momentum != 0.0;
    par_for(n, kUpdateBlock, [&](std::int64_t b, std::int64_t e) {
      if (momentum) {
        sgd_momentum(pp + b, gp + b, bp + b, e - b, s, step.first);
      } else {
        sgd_plain(pp + b, gp + b, e - b, s);
      }
    });
  });
}

void adam_step(DType dtype, std::byte* p, const std::byte* g, std::byte* m, std::byte* v, std::int64_t n,
               const backend::AdamStep& step) {
  dispatch_float(dtype, step.decoupled ? "adamw" : "adam", [&]<class T>(TypeTag<T>) {
    const AdamScalars<T> s = adam_scalars<T>(step);
    T* pp = reinterpret_cast<T*>(p);
    const T* gp = reinterpret_cast<const T*>(g);
    T* mp = reinterpret_cast<T*>(m);
    T* vp = reinterpret_cast<T*>(v);
    par_for(n, kUpdateBlock,
            [&](std::int64_t b, std::int64_t e) { adam_update(pp + b, gp + b, mp + b, vp + b, e - b, s); });
  });
}

}  // namespace dm::cpu
