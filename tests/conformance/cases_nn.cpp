// The fused training kernels through their public entry points: nn::linear, layer_norm,
// cross_entropy, nll_loss, mse_loss and dropout, forward and (through backward()) backward;
// and the fused backward passes of the activations.
#include <cmath>
#include <string>

#include "democratising/nn/functional.hpp"
#include "harness.hpp"
#include "host.hpp"

namespace dm::conformance {
namespace {

Tensor leaf(const Host& h, Device d) { return to_tensor(h).to(d).detach().set_requires_grad(); }

std::string dt(DType t) { return std::string(dtype_name(t)); }

// y = x W^T + b over rows r of x viewed as (R, in); W may be given transposed, as (in, out).t().
void linear_case(Cases& cases, DType dtype, const Dims& x_shape, std::int64_t out, bool bias, bool weight_transposed,
                 std::uint64_t seed) {
  const std::int64_t in = x_shape.back();
  const std::int64_t rows = numel_of(x_shape) / in;
  const Host x = make_values(dtype, x_shape, Values::general, seed);
  const Host w_stored =
      make_values(dtype, weight_transposed ? Dims{in, out} : Dims{out, in}, Values::general, seed + 1);
  const Host w = weight_transposed ? transpose(w_stored, 0, 1) : w_stored;
  const Host b = make_values(dtype, {out}, Values::general, seed + 2);
  Dims y_shape = x_shape;
  y_shape.back() = out;
  const Host g = make_values(dtype, y_shape, Values::general, seed + 3);
  const std::string label = "nn.linear " + dt(dtype) + " x" + dims_str(x_shape) + " W" + dims_str({out, in}) +
                            (weight_transposed ? " stored transposed" : "") + (bias ? " with bias" : " no bias") +
                            " forward+backward";
  cases.push_back({label, tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor tx = leaf(x, d), tw_stored = leaf(w_stored, d), tb = bias ? leaf(b, d) : Tensor();
                     Tensor tw = weight_transposed ? tw_stored.t() : tw_stored;
                     Tensor y = nn::linear(tx, tw, tb);
                     y.backward(to_tensor(g).to(d));
                     Outputs o = {capture("y", y), capture("dx", tx.grad()), capture("dW", tw_stored.grad())};
                     if (bias) o.push_back(capture("db", tb.grad()));
                     return o;
                   },
                   [=](const Outputs&) {
                     std::vector<double> y(static_cast<std::size_t>(rows * out)), dx(x.v.size()), dw(w.v.size()),
                         db(static_cast<std::size_t>(out));
                     for (std::int64_t r = 0; r < rows; ++r)
                       for (std::int64_t o = 0; o < out; ++o) {
                         const double go = g.v[static_cast<std::size_t>(r * out + o)];
                         double s = bias ? b.v[static_cast<std::size_t>(o)] : 0.0;
                         for (std::int64_t i = 0; i < in; ++i) {
                           const double xv = x.v[static_cast<std::size_t>(r * in + i)],
                                        wv = w.v[static_cast<std::size_t>(o * in + i)];
                           s += xv * wv;
                           dx[static_cast<std::size_t>(r * in + i)] += go * wv;
                           dw[static_cast<std::size_t>(o * in + i)] += go * xv;
                         }
                         y[static_cast<std::size_t>(r * out + o)] = s;
                         db[static_cast<std::size_t>(o)] += go;
                       }
                     Host dw_host{{out, in}, dtype, dw};
                     if (weight_transposed) dw_host = transpose(dw_host, 0, 1);
                     Outputs o = {expect("y", y_shape, dtype, y), expect("dx", x_shape, dtype, dx),
                                  expect("dW", dw_host.shape, dtype, dw_host.v)};
                     if (bias) o.push_back(expect("db", {out}, dtype, db));
                     return o;
                   }});
}

// y = (x - mean) / sqrt(var + eps) * w + b over the trailing `n` elements of each row.
void layer_norm_case(Cases& cases, DType dtype, const Dims& x_shape, const Dims& normalized, bool affine,
                     std::uint64_t seed) {
  const std::int64_t n = numel_of(normalized);
  const std::int64_t rows = numel_of(x_shape) / n;
  const double eps = 1e-5;
  const Host x = make_values(dtype, x_shape, Values::general, seed);
  const Host w = make_values(dtype, normalized, Values::positive, seed + 1);
  const Host b = make_values(dtype, normalized, Values::general, seed + 2);
  const Host g = make_values(dtype, x_shape, Values::general, seed + 3);
  cases.push_back(
      {"nn.layer_norm " + dt(dtype) + " x" + dims_str(x_shape) + " over " + dims_str(normalized) +
           (affine ? " affine" : " no affine") + " forward+backward",
       tol::for_dtype(dtype, true),
       [=](Device d) {
         Tensor tx = leaf(x, d), tw = affine ? leaf(w, d) : Tensor(), tb = affine ? leaf(b, d) : Tensor();
         Tensor y = nn::layer_norm(tx, Shape(normalized), tw, tb, eps);
         y.backward(to_tensor(g).to(d));
         Outputs o = {capture("y", y), capture("dx", tx.grad())};
         if (affine) o.insert(o.end(), {capture("dw", tw.grad()), capture("db", tb.grad())});
         return o;
       },
       [=](const Outputs&) {
         std::vector<double> y(x.v.size()), dx(x.v.size()), dw(static_cast<std::size_t>(n)),
             db(static_cast<std::size_t>(n));
         for (std::int64_t r = 0; r < rows; ++r) {
           const std::size_t o = static_cast<std::size_t>(r * n);
           double mean = 0.0, var = 0.0;
           for (std::int64_t i = 0; i < n; ++i) mean += x.v[o + static_cast<std::size_t>(i)];
           mean /= static_cast<double>(n);
           for (std::int64_t i = 0; i < n; ++i) var += std::pow(x.v[o + static_cast<std::size_t>(i)] - mean, 2);
           var /= static_cast<double>(n);
           const double rstd = 1.0 / std::sqrt(var + eps);
           // dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * w.
           double mean_gw = 0.0, mean_gwx = 0.0;
           for (std::int64_t i = 0; i < n; ++i) {
             const std::size_t k = o + static_cast<std::size_t>(i), j = static_cast<std::size_t>(i);
             const double xhat = (x.v[k] - mean) * rstd, wj = affine ? w.v[j] : 1.0;
             y[k] = xhat * wj + (affine ? b.v[j] : 0.0);
             mean_gw += g.v[k] * wj / static_cast<double>(n);
             mean_gwx += g.v[k] * wj * xhat / static_cast<double>(n);
             dw[j] += g.v[k] * xhat;
             db[j] += g.v[k];
           }
           for (std::int64_t i = 0; i < n; ++i) {
             const std::size_t k = o + static_cast<std::size_t>(i), j = static_cast<std::size_t>(i);
             const double xhat = (x.v[k] - mean) * rstd, wj = affine ? w.v[j] : 1.0;
             dx[k] = rstd * (g.v[k] * wj - mean_gw - xhat * mean_gwx);
           }
         }
         Outputs out = {expect("y", x_shape, dtype, y), expect("dx", x_shape, dtype, dx)};
         if (affine) out.insert(out.end(), {expect("dw", normalized, dtype, dw), expect("db", normalized, dtype, db)});
         return out;
       }});
}

// Mean over the batch of -log_softmax(z)[label] (cross_entropy) or -z[label] (nll_loss).
void classification_case(Cases& cases, const std::string& loss, DType dtype, DType label_dtype, bool transposed_logits,
                         std::uint64_t seed) {
  const std::int64_t batch = 4, classes = 5;
  const Host z_stored =
      make_values(dtype, transposed_logits ? Dims{classes, batch} : Dims{batch, classes}, Values::general, seed);
  const Host z = transposed_logits ? transpose(z_stored, 0, 1) : z_stored;
  const Host labels{{batch}, label_dtype, {3, 0, 4, 3}};
  cases.push_back(
      {"nn." + loss + " " + dt(dtype) + " logits (4,5)" + (transposed_logits ? " stored transposed" : "") + " labels " +
           dt(label_dtype) + " forward+backward",
       tol::for_dtype(dtype, loss == "cross_entropy"),
       [=](Device d) {
         Tensor stored = leaf(z_stored, d);
         Tensor logits = transposed_logits ? stored.t() : stored;
         Tensor tl = to_tensor(labels).to(d);
         Tensor l = loss == "cross_entropy" ? nn::cross_entropy(logits, tl) : nn::nll_loss(logits, tl);
         l.backward();
         return Outputs{capture("loss", l), capture("dlogits", transposed_logits ? stored.grad().t() : stored.grad())};
       },
       [=](const Outputs&) {
         double total = 0.0;
         std::vector<double> dz(z.v.size());
         for (std::int64_t r = 0; r < batch; ++r) {
           const auto y = static_cast<std::int64_t>(labels.v[static_cast<std::size_t>(r)]);
           const std::size_t o = static_cast<std::size_t>(r * classes);
           if (loss == "nll_loss") {
             total += -z.v[o + static_cast<std::size_t>(y)];
             dz[o + static_cast<std::size_t>(y)] = -1.0 / batch;
             continue;
           }
           double m = -INFINITY, s = 0.0;
           for (std::int64_t c = 0; c < classes; ++c) m = std::max(m, z.v[o + static_cast<std::size_t>(c)]);
           for (std::int64_t c = 0; c < classes; ++c) s += std::exp(z.v[o + static_cast<std::size_t>(c)] - m);
           const double lse = m + std::log(s);
           total += lse - z.v[o + static_cast<std::size_t>(y)];
           for (std::int64_t c = 0; c < classes; ++c)
             dz[o + static_cast<std::size_t>(c)] =
                 (std::exp(z.v[o + static_cast<std::size_t>(c)] - lse) - (c == y ? 1.0 : 0.0)) / batch;
         }
         return Outputs{expect("loss", {}, dtype, {total / batch}), expect("dlogits", {batch, classes}, dtype, dz)};
       }});
}

void mse_case(Cases& cases, DType dtype, std::uint64_t seed) {
  const Host p = make_values(dtype, {3, 4}, Values::general, seed),
             t = make_values(dtype, {4, 3}, Values::general, seed + 1);
  const Host tt = transpose(t, 0, 1);
  cases.push_back({"nn.mse_loss " + dt(dtype) + " (3,4) target (4,3).t() forward+backward", tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor tp = leaf(p, d), target_stored = leaf(t, d);
                     Tensor l = nn::mse_loss(tp, target_stored.t());
                     l.backward();
                     return Outputs{capture("loss", l), capture("dprediction", tp.grad()),
                                    capture("dtarget", target_stored.grad().t())};
                   },
                   [=](const Outputs&) {
                     const double n = static_cast<double>(p.v.size());
                     double s = 0.0;
                     std::vector<double> dp(p.v.size()), dt_(p.v.size());
                     for (std::size_t i = 0; i < p.v.size(); ++i) {
                       const double e = p.v[i] - tt.v[i];
                       s += e * e;
                       dp[i] = 2.0 * e / n;
                       dt_[i] = -2.0 * e / n;
                     }
                     return Outputs{expect("loss", {}, dtype, {s / n}), expect("dprediction", {3, 4}, dtype, dp),
                                    expect("dtarget", {3, 4}, dtype, dt_)};
                   }});
}

// The mask is read back from the output: every element must be 0 or x / (1 - p), the backward
// must use the same mask, and about 1 - p of the elements must be kept.
void dropout_case(Cases& cases, DType dtype, double p, bool training, std::uint64_t seed) {
  const Host x = make_values(dtype, {6, 8}, Values::positive, seed),
             g = make_values(dtype, {6, 8}, Values::general, seed + 1);
  cases.push_back({"nn.dropout " + dt(dtype) + " (6,8) p=" + std::to_string(p).substr(0, 4) +
                       (training ? " training" : " eval") + " forward+backward",
                   tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor tx = leaf(x, d);
                     Tensor y = nn::dropout(tx, p, training);
                     y.backward(to_tensor(g).to(d));
                     return Outputs{capture("y", y), capture("dx", tx.grad())};
                   },
                   [=](const Outputs& got) {
                     const double scale = training ? 1.0 / (1.0 - p) : 1.0;
                     std::vector<double> y(x.v.size()), dx(x.v.size());
                     std::size_t kept = 0;
                     for (std::size_t i = 0; i < y.size(); ++i) {
                       const bool dropped =
                           training && !got.empty() && i < got[0].values.size() && got[0].values[i] == 0.0;
                       const double m = dropped ? 0.0 : scale;
                       kept += dropped ? 0 : 1;
                       y[i] = x.v[i] * m;
                       dx[i] = g.v[i] * m;
                     }
                     const double fraction = static_cast<double>(kept) / static_cast<double>(y.size());
                     if (std::fabs(fraction - (1.0 - p)) > 0.25) y.assign(y.size(), NAN);
                     return Outputs{expect("y", {6, 8}, dtype, y), expect("dx", {6, 8}, dtype, dx)};
                   }});
}

// The fused activation backward passes: dx = g * f'(x), from x (or y = f(x)) through backward().
void activation_backward_case(Cases& cases, const std::string& act, DType dtype, bool transposed,
                              std::uint64_t seed) {
  const Host stored = make_values(dtype, transposed ? Dims{5, 3} : Dims{3, 5}, Values::general, seed);
  const Host x = transposed ? transpose(stored, 0, 1) : stored;
  const Host g = make_values(dtype, {3, 5}, Values::general, seed + 1);
  cases.push_back({"backward of " + act + " " + dt(dtype) + (transposed ? " transposed" : " contiguous") + " (3,5)",
                   tol::for_dtype(dtype, act != "relu"),
                   [=](Device d) {
                     Tensor ts = leaf(stored, d);
                     Tensor tx = transposed ? ts.t() : ts;
                     Tensor y = act == "relu"      ? tx.relu()
                                : act == "sigmoid" ? tx.sigmoid()
                                : act == "tanh"    ? tx.tanh()
                                                   : tx.gelu();
                     y.backward(to_tensor(g).to(d));
                     return Outputs{capture("dx", transposed ? ts.grad().t() : ts.grad())};
                   },
                   [=](const Outputs&) {
                     std::vector<double> dx(x.v.size());
                     for (std::size_t i = 0; i < dx.size(); ++i) {
                       const double v = x.v[i];
                       double slope = 0.0;
                       if (act == "relu") {
                         slope = v > 0 ? 1.0 : 0.0;
                       } else if (act == "sigmoid") {
                         const double s = 1.0 / (1.0 + std::exp(-v));
                         slope = s * (1.0 - s);
                       } else if (act == "tanh") {
                         slope = 1.0 - std::tanh(v) * std::tanh(v);
                       } else {  // gelu: Phi(x) + x phi(x)
                         slope = 0.5 * std::erfc(-v / std::sqrt(2.0)) + v * std::exp(-0.5 * v * v) / std::sqrt(2.0 * M_PI);
                       }
                       dx[i] = g.v[i] * slope;
                     }
                     return Outputs{expect("dx", {3, 5}, dtype, dx)};
                   }});
}

}  // namespace

void add_nn_cases(Cases& cases) {
  std::uint64_t seed = 17000;
  for (DType t : {DType::f32, DType::f64}) {
    linear_case(cases, t, {4, 3}, 5, true, false, ++seed);
    linear_case(cases, t, {4, 3}, 5, false, false, ++seed);
    linear_case(cases, t, {2, 3, 6}, 4, true, true, ++seed);
    linear_case(cases, t, {33, 40}, 17, true, false, ++seed);
    layer_norm_case(cases, t, {4, 6}, {6}, true, ++seed);
    layer_norm_case(cases, t, {4, 6}, {6}, false, ++seed);
    layer_norm_case(cases, t, {2, 3, 4}, {3, 4}, true, ++seed);
    for (DType l : {DType::i64, DType::i32, DType::u8})
      classification_case(cases, "cross_entropy", t, l, false, ++seed);
    classification_case(cases, "cross_entropy", t, DType::i64, true, ++seed);
    for (DType l : {DType::i64, DType::i32}) classification_case(cases, "nll_loss", t, l, false, ++seed);
    classification_case(cases, "nll_loss", t, DType::i64, true, ++seed);
    mse_case(cases, t, ++seed);
    dropout_case(cases, t, 0.25, true, ++seed);
    dropout_case(cases, t, 0.5, true, ++seed);
    dropout_case(cases, t, 0.25, false, ++seed);
    for (const char* act : {"relu", "sigmoid", "tanh", "gelu"})
      for (bool transposed : {false, true}) activation_backward_case(cases, act, t, transposed, ++seed);
  }
  dropout_case(cases, DType::f32, 0.0, true, ++seed);
}

}  // namespace dm::conformance
