// The Embedding and MultiheadAttention layers over nn::embedding and
// nn::scaled_dot_product_attention. Sizes are checked when a layer is made, so a bad one
// fails at model building; shapes that depend on the input are checked in forward.
#include <cmath>
#include <string>

#include "democratising/base/error.hpp"
#include "democratising/nn/attention.hpp"
#include "democratising/nn/functional.hpp"

namespace dm::nn {
namespace {

// A draw of the global generator in `dtype` (bf16 drawn in f32).
DType draw_dtype(DType dtype) { return dtype == DType::bf16 ? DType::f32 : dtype; }

void require_parameter_dtype(DType dtype, const char* layer) {
  if (!is_floating(dtype))
    throw DTypeError(std::string("[") + layer + "] parameters must be f32, f64 or bf16, got " +
                     std::string(dtype_name(dtype)));
}

}  // namespace

// ---- Embedding --------------------------------------------------------------------------------

Embedding::Embedding(std::int64_t num, std::int64_t dim, DType dtype) : num_(num), dim_(dim) {
  if (num < 1 || dim < 1)
    throw ShapeError("[Embedding] num and dim must be positive, got " + std::to_string(num) + " x " +
                     std::to_string(dim));
  require_parameter_dtype(dtype, "Embedding");
  register_parameter("weight", Tensor::randn({num, dim}, draw_dtype(dtype)).to(dtype));
}

Tensor Embedding::forward(const Tensor& indices) const { return embedding(indices, weight()); }

std::string Embedding::name() const {
  return "Embedding(" + std::to_string(num_) + ", " + std::to_string(dim_) + ")";
}

// ---- MultiheadAttention ---------------------------------------------------------------------

// torch.nn.MultiheadAttention's _reset_parameters: xavier_uniform_ on in_proj_weight (fan_in E,
// fan_out 3E, so the bound is sqrt(6 / 4E)), zero biases; out_proj keeps torch.nn.Linear's
// weight (uniform in +-1/sqrt(E)) and gets a zero bias.
MultiheadAttention::MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads,
                                       MultiheadAttentionOptions options)
    : embed_dim_(embed_dim), heads_(num_heads), causal_(options.causal), has_bias_(options.bias) {
  if (embed_dim < 1 || num_heads < 1 || embed_dim % num_heads != 0)
    throw ShapeError("[MultiheadAttention] embed_dim " + std::to_string(embed_dim) +
                     " must be a positive multiple of num_heads " + std::to_string(num_heads));
  require_parameter_dtype(options.dtype, "MultiheadAttention");
  const double bound = std::sqrt(6.0 / static_cast<double>(4 * embed_dim));
  Tensor w = Tensor::rand({3 * embed_dim, embed_dim}, draw_dtype(options.dtype));
  w.mul_(2.0 * bound).sub_(bound);
  register_parameter("in_proj_weight", w.to(options.dtype));
  if (has_bias_) register_parameter("in_proj_bias", Tensor::zeros({3 * embed_dim}, options.dtype));
  out_proj_ = std::make_shared<Dense>(embed_dim, embed_dim, has_bias_, options.dtype);
  register_module("out_proj", out_proj_);
  if (has_bias_) load_parameter("out_proj.bias", Tensor::zeros({embed_dim}, options.dtype));
}

std::string MultiheadAttention::name() const {
  return "MultiheadAttention(" + std::to_string(embed_dim_) + ", " + std::to_string(heads_) + " heads" +
         (causal_ ? ", causal" : "") + (has_bias_ ? ")" : ", no bias)");
}

Tensor MultiheadAttention::forward(const Tensor& x) const {
  if (!x.defined() || x.dim() != 3 || x.size(2) != embed_dim_)
    throw ShapeError("[" + name() + "] x must be (batch, sequence, " + std::to_string(embed_dim_) + "), got " +
                     (x.defined() ? "shape " + x.shape().str() : std::string("an undefined tensor")));
  // One GEMM projects queries, keys and values together: (B, L, 3E), split by views.
  const Tensor qkv = linear(x, in_proj_weight(), has_bias_ ? parameter(1) : Tensor());
  return attend(qkv.narrow(2, 0, embed_dim_), qkv.narrow(2, embed_dim_, embed_dim_),
                qkv.narrow(2, 2 * embed_dim_, embed_dim_));
}

Tensor MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value) const {
  const auto fail = [&](const std::string& why) {
    std::string message = "[" + name() + "]";
    for (const auto& [t, what] : {std::pair{&query, " query "}, std::pair{&key, ", key "}, std::pair{&value, ", value "}}) {
      message += what;
      message += t->defined() ? t->shape().str() : std::string("undefined");
    }
    message += ": ";
    message += why;
    throw ShapeError(message);
  };
  for (const Tensor* t : {&query, &key, &value})
    if (!t->defined() || t->dim() != 3 || t->size(2) != embed_dim_)
      fail("each must be (batch, sequence, " + std::to_string(embed_dim_) + ")");
  if (key.size(0) != query.size(0) || value.size(0) != query.size(0)) fail("batch sizes must match");
  if (key.size(1) != value.size(1)) fail("key and value sequence lengths must match");
  const Tensor& w = in_proj_weight();
  const auto project = [&](const Tensor& t, std::int64_t part) {
    const Tensor b = has_bias_ ? parameter(1).narrow(0, part * embed_dim_, embed_dim_) : Tensor();
    return linear(t, w.narrow(0, part * embed_dim_, embed_dim_), b);
  };
  return attend(project(query, 0), project(key, 1), project(value, 2));
}

// q (B, Lq, E), k and v (B, Lk, E), projected: heads split off as (B, H, L, E / H) views,
// attended, merged back to (B, Lq, E) and projected out.
Tensor MultiheadAttention::attend(const Tensor& q, const Tensor& k, const Tensor& v) const {
  const std::int64_t head_dim = embed_dim_ / heads_;
  const auto heads = [&](const Tensor& t) { return t.reshape({t.size(0), t.size(1), heads_, head_dim}).transpose(1, 2); };
  const Tensor a = scaled_dot_product_attention(heads(q), heads(k), heads(v), causal_);
  return out_proj_->forward(a.transpose(1, 2).reshape({q.size(0), q.size(1), embed_dim_}));
}

}  // namespace dm::nn
