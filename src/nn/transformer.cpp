// nn::TransformerEncoderLayer: the pre-norm block out of the existing layers. Children are
// registered in PyTorch's order (self_attn, linear1, linear2, norm1, norm2), so named_parameters
// lists a state dict in torch's order too.
#include "democratising/nn/transformer.hpp"

#include "democratising/base/error.hpp"

namespace dm::nn {

TransformerEncoderLayer::TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead,
                                                 std::int64_t dim_feedforward, TransformerEncoderLayerOptions options)
    : d_model_(d_model), heads_(nhead), feedforward_(dim_feedforward) {
  if (d_model < 1 || nhead < 1 || d_model % nhead != 0 || dim_feedforward < 1)
    throw ShapeError("[TransformerEncoderLayer] d_model " + std::to_string(d_model) +
                     " must be a positive multiple of nhead " + std::to_string(nhead) +
                     " and dim_feedforward positive, got " + std::to_string(dim_feedforward));
  self_attn_ = std::make_shared<MultiheadAttention>(d_model, nhead, MultiheadAttentionOptions{.dtype = options.dtype});
  linear1_ = std::make_shared<Dense>(d_model, dim_feedforward, true, options.dtype);
  linear2_ = std::make_shared<Dense>(dim_feedforward, d_model, true, options.dtype);
  norm1_ = std::make_shared<LayerNorm>(Shape{d_model}, options.eps, options.dtype);
  norm2_ = std::make_shared<LayerNorm>(Shape{d_model}, options.eps, options.dtype);
  register_module("self_attn", self_attn_);
  register_module("linear1", linear1_);
  register_module("linear2", linear2_);
  register_module("norm1", norm1_);
  register_module("norm2", norm2_);
}

Tensor TransformerEncoderLayer::forward(const Tensor& x) const {
  if (!x.defined() || x.dim() != 3 || x.size(2) != d_model_)
    throw ShapeError("[" + name() + "] x must be (batch, tokens, " + std::to_string(d_model_) + "), got " +
                     (x.defined() ? "shape " + x.shape().str() : std::string("an undefined tensor")));
  const Tensor h = x + self_attn_->forward(norm1_->forward(x));
  return h + linear2_->forward(linear1_->forward(norm2_->forward(h)).gelu());
}

std::string TransformerEncoderLayer::name() const {
  return "TransformerEncoderLayer(" + std::to_string(d_model_) + ", " + std::to_string(heads_) + " heads, mlp " +
         std::to_string(feedforward_) + ")";
}

}  // namespace dm::nn
