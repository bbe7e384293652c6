// CUDA kernels of the fused training passes that are one element (or one column) per thread:
// activation backward, bias add and row sums, dropout, the loss gradients, the optimizer
// steps and the parameter updates. Each element's arithmetic is the CPU kernel's, operation
// for operation (device code is built without FMA contraction, as the host code is), so
// results match the CPU's bitwise up to libm differences in erf/exp (gelu).
#include <cmath>
#include <string>

#include "backend/cuda/check.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/cuda/training_kernels.hpp"

namespace dm::cuda_backend::kernels {
namespace {

// Calls f(i) for every i in [0, n), grid-stride.
template <class F>
__global__ void each_kernel(std::int64_t n, F f) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) f(i);
}

template <class F>
void each(const char* entry, std::int64_t n, F f) {
  if (n <= 0) return;
  each_kernel<F><<<static_cast<unsigned>(grid_blocks(n)), kBlockThreads>>>(n, f);
  check_launch(entry);
}

template <class F>
void dispatch_float(DType dtype, const char* entry, F&& f) {
  if (dtype == DType::f32) return f(float{});
  if (dtype == DType::f64) return f(double{});
  throw DTypeError(std::string("[cuda: ") + entry + "] expects f32 or f64, got " + std::string(dtype_name(dtype)));
}

template <class T>
struct ActivationBackward {
  UnaryGradOp op;
  const T *g, *x, *y;
  T* dx;
  __device__ void operator()(std::int64_t i) const {
    switch (op) {
      case UnaryGradOp::relu: dx[i] = y[i] <= 0 ? T(0) : g[i]; return;
      case UnaryGradOp::sigmoid: dx[i] = g[i] * (y[i] * (T(1) - y[i])); return;
      case UnaryGradOp::tanh: dx[i] = g[i] * (T(1) - y[i] * y[i]); return;
      case UnaryGradOp::gelu: {
        // Below -40 both terms are 0; clamping keeps -inf * phi(-inf) from becoming NaN.
        const T xc = x[i] < T(-40) ? T(-40) : x[i];
        const T cdf = T(0.5) * (T(1) + erf(xc * T(0.70710678118654752440)));
        const T pdf = exp(T(-0.5) * xc * xc) * T(0.3989422804014327);
        dx[i] = g[i] * (cdf + xc * pdf);
        return;
      }
    }
  }
};

template <class T>
struct BiasAdd {
  T* y;
  const T* b;
  std::int64_t cols;
  __device__ void operator()(std::int64_t i) const { y[i] += b[i % cols]; }
};

// One thread per column, adding the rows in order as the CPU does.
template <class T>
struct ColumnSum {
  const T* g;
  T* out;
  std::int64_t rows, cols;
  __device__ void operator()(std::int64_t j) const {
    T s = T(0);
    for (std::int64_t r = 0; r < rows; ++r) s += g[r * cols + j];
    out[j] = s;
  }
};

template <class T>
struct DropoutMask {
  T* m;
  T kept, threshold;
  __device__ void operator()(std::int64_t i) const { m[i] = m[i] < threshold ? kept : T(0); }
};

template <class T>
struct Multiply {
  const T *a, *b;
  T* out;
  __device__ void operator()(std::int64_t i) const { out[i] = a[i] * b[i]; }
};

template <class T>
struct ScaledDifference {
  const T *p, *t;
  T* out;
  T scale;
  __device__ void operator()(std::int64_t i) const { out[i] = (p[i] - t[i]) * scale; }
};

template <class T>
struct NllBackward {
  T* out;
  const std::int64_t* labels;
  T value;
  std::int64_t cols;
  __device__ void operator()(std::int64_t r) const { out[r * cols + labels[r]] = value; }
};

template <class T>
struct CrossEntropyBackward {
  const T* probs;
  const std::int64_t* labels;
  T* out;
  T scale;
  std::int64_t cols;
  __device__ void operator()(std::int64_t i) const {
    const std::int64_t r = i / cols, j = i % cols;
    out[i] = j == labels[r] ? (probs[i] - T(1)) * scale : probs[i] * scale;
  }
};

template <class T>
struct Sgd {
  T *p, *buf;
  const T* g;
  T neg_lr, momentum, one_minus_dampening, weight_decay;
  bool nesterov, first, with_momentum;
  __device__ void operator()(std::int64_t i) const {
    T d = g[i];
    if (weight_decay != T(0)) d = d + weight_decay * p[i];
    if (with_momentum) {
      T b = d;
      if (!first) {
        b = buf[i] * momentum;
        b = b + one_minus_dampening * d;
      }
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    p[i] = p[i] + neg_lr * d;
  }
};

template <class T>
struct Adam {
  T *p, *m, *v;
  const T* g;
  T beta1, one_minus_beta1, beta2, one_minus_beta2, weight_decay, decay_factor, neg_step_size, bias_correction2_sqrt,
      eps;
  bool decoupled;
  __device__ void operator()(std::int64_t i) const {
    T pi = p[i];
    T gi = g[i];
    if (decoupled) pi = pi * decay_factor;
    if (!decoupled && weight_decay != T(0)) gi = gi + weight_decay * pi;
    T mi = m[i] * beta1;
    mi = mi + one_minus_beta1 * gi;
    T vi = v[i] * beta2;
    vi = vi + one_minus_beta2 * gi * gi;
    const T denom = sqrt(vi) / bias_correction2_sqrt + eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + neg_step_size * mi / denom;
  }
};

template <class T>
struct AddScaled {
  T* p;
  const T* delta;
  T alpha;
  bool assign;  // p = alpha * delta instead of p += alpha * delta
  __device__ void operator()(std::int64_t i) const {
    if (assign) p[i] = alpha * delta[i];
    else p[i] += alpha * delta[i];
  }
};

}  // namespace

void unary_backward(UnaryGradOp op, DType dtype, const std::byte* g, const std::byte* x, const std::byte* y,
                    std::byte* dx, std::int64_t n) {
  dispatch_float(dtype, "unary_backward", [&]<class T>(T) {
    each("unary_backward", n,
         ActivationBackward<T>{op, reinterpret_cast<const T*>(g), reinterpret_cast<const T*>(x),
                               reinterpret_cast<const T*>(y), reinterpret_cast<T*>(dx)});
  });
}

void bias_add_rows(DType dtype, std::byte* y, const std::byte* b, std::int64_t rows, std::int64_t cols) {
  dispatch_float(dtype, "bias_add_rows", [&]<class T>(T) {
    each("bias_add_rows", rows * cols, BiasAdd<T>{reinterpret_cast<T*>(y), reinterpret_cast<const T*>(b), cols});
  });
}

void sum_rows(DType dtype, const std::byte* g, std::byte* out, std::int64_t rows, std::int64_t cols) {
  dispatch_float(dtype, "sum_rows", [&]<class T>(T) {
    each("sum_rows", cols, ColumnSum<T>{reinterpret_cast<const T*>(g), reinterpret_cast<T*>(out), rows, cols});
  });
}

void dropout_mask(DType dtype, std::byte* mask, double keep, std::int64_t n) {
  dispatch_float(dtype, "dropout_mask", [&]<class T>(T) {
    each("dropout_mask", n, DropoutMask<T>{reinterpret_cast<T*>(mask), static_cast<T>(1.0 / keep), static_cast<T>(keep)});
  });
}

void multiply(DType dtype, const std::byte* a, const std::byte* b, std::byte* out, std::int64_t n) {
  dispatch_float(dtype, "multiply", [&]<class T>(T) {
    each("multiply", n,
         Multiply<T>{reinterpret_cast<const T*>(a), reinterpret_cast<const T*>(b), reinterpret_cast<T*>(out)});
  });
}

void scaled_difference(DType dtype, const std::byte* p, const std::byte* t, std::byte* out, double scale,
                       std::int64_t n) {
  dispatch_float(dtype, "scaled_difference", [&]<class T>(T) {
    each("scaled_difference", n,
         ScaledDifference<T>{reinterpret_cast<const T*>(p), reinterpret_cast<const T*>(t), reinterpret_cast<T*>(out),
                             static_cast<T>(scale)});
  });
}

void nll_backward(DType dtype, std::byte* out, const std::int64_t* labels, double value, std::int64_t rows,
                  std::int64_t cols) {
  dispatch_float(dtype, "nll_backward", [&]<class T>(T) {
    each("nll_backward", rows, NllBackward<T>{reinterpret_cast<T*>(out), labels, static_cast<T>(value), cols});
  });
}

void cross_entropy_backward(DType dtype, const std::byte* probs, const std::int64_t* labels, std::byte* dlogits,
                            double scale, std::int64_t rows, std::int64_t cols) {
  dispatch_float(dtype, "cross_entropy_backward", [&]<class T>(T) {
    each("cross_entropy_backward", rows * cols,
         CrossEntropyBackward<T>{reinterpret_cast<const T*>(probs), labels, reinterpret_cast<T*>(dlogits),
                                 static_cast<T>(scale), cols});
  });
}

void sgd_step(DType dtype, std::byte* p, const std::byte* g, std::byte* buf, std::int64_t n,
              const backend::SgdStep& step) {
  dispatch_float(dtype, "sgd_step", [&]<class T>(T) {
    each("sgd_step", n,
         Sgd<T>{reinterpret_cast<T*>(p), reinterpret_cast<T*>(buf), reinterpret_cast<const T*>(g),
                static_cast<T>(-step.lr), static_cast<T>(step.momentum), static_cast<T>(1.0 - step.dampening),
                static_cast<T>(step.weight_decay), step.nesterov, step.first, step.momentum != 0.0});
  });
}

void adam_step(DType dtype, std::byte* p, const std::byte* g, std::byte* m, std::byte* v, std::int64_t n,
               const backend::AdamStep& step) {
  dispatch_float(dtype, "adam_step", [&]<class T>(T) {
    // The scalars are computed on the host in f64 and rounded to T, as the CPU does.
    const double bias_correction1 = 1.0 - std::pow(step.beta1, static_cast<double>(step.t));
    const double bias_correction2 = 1.0 - std::pow(step.beta2, static_cast<double>(step.t));
    each("adam_step", n,
         Adam<T>{reinterpret_cast<T*>(p), reinterpret_cast<T*>(m), reinterpret_cast<T*>(v),
                 reinterpret_cast<const T*>(g), static_cast<T>(step.beta1), static_cast<T>(1.0 - step.beta1),
                 static_cast<T>(step.beta2), static_cast<T>(1.0 - step.beta2), static_cast<T>(step.weight_decay),
                 static_cast<T>(1.0 - step.lr * step.weight_decay), static_cast<T>(-(step.lr / bias_correction1)),
                 static_cast<T>(std::sqrt(bias_correction2)), static_cast<T>(step.eps), step.decoupled});
  });
}

void add_scaled_many(float* p, std::span<const float* const> deltas, float alpha, std::int64_t n) {
  // One pass per delta, in order on one stream: each element sees the CPU's additions in order.
  for (const float* d : deltas) each("add_scaled_many", n, AddScaled<float>{p, d, alpha, false});
}

void weighted_sum(DType dtype, std::byte* out, std::span<const std::byte* const> sources,
                  std::span<const double> weights, std::int64_t n) {
  dispatch_float(dtype, "weighted_sum", [&]<class T>(T) {
    // out = w0 * s0 first (out may be s0: each element is read before it is written), then
    // += w_k * s_k in order.
    for (std::size_t k = 0; k < sources.size(); ++k)
      each("weighted_sum", n,
           AddScaled<T>{reinterpret_cast<T*>(out), reinterpret_cast<const T*>(sources[k]), static_cast<T>(weights[k]),
                        k == 0});
  });
}

}  // namespace dm::cuda_backend::kernels
