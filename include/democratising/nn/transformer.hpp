#pragma once
// nn::TransformerEncoderLayer: one pre-norm encoder block over tokens (N, T, D),
//   x = x + MultiheadAttention(LayerNorm1(x))
//   x = x + Dense2(GELU(Dense1(LayerNorm2(x))))
// as torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0,
// activation="gelu", batch_first=True, norm_first=True). Normalising before each sublayer
// (Xiong et al., 2020) keeps the skip path an identity, which lets a stack train without warm-up.
#include <cstdint>
#include <memory>
#include <string>

#include "democratising/nn/attention.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/module.hpp"

namespace dm::nn {

/// Options of TransformerEncoderLayer.
struct TransformerEncoderLayerOptions {
  /// Added to the variance by both LayerNorms.
  double eps = 1e-5;
  /// The parameters' dtype.
  DType dtype = DType::f32;
};

/// A pre-norm encoder block (see the file comment). Its children carry PyTorch's names, so a
/// state dict maps one to one: self_attn.{in_proj_weight, in_proj_bias, out_proj.weight,
/// out_proj.bias}, linear1.*, linear2.*, norm1.*, norm2.*; each initialised as its own layer is.
class TransformerEncoderLayer : public Module {
 public:
  /// d_model must be a positive multiple of nhead and dim_feedforward positive (ShapeError).
  TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead, std::int64_t dim_feedforward,
                          TransformerEncoderLayerOptions options = {});
  /// x (N, T, d_model) to the same shape; any other shape is a ShapeError naming the layer.
  Tensor forward(const Tensor& x) const override;
  /// E.g. "TransformerEncoderLayer(64, 4 heads, mlp 128)".
  std::string name() const override;

 private:
  std::int64_t d_model_, heads_, feedforward_;
  std::shared_ptr<MultiheadAttention> self_attn_;
  std::shared_ptr<Dense> linear1_, linear2_;
  std::shared_ptr<LayerNorm> norm1_, norm2_;
};

}  // namespace dm::nn
