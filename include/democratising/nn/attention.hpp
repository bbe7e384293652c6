#pragma once
// Embeddings and attention: nn::embedding and nn::scaled_dot_product_attention (functional,
// each one autograd node with a hand-written backward), and the Embedding and
// MultiheadAttention layers built on them. They accept f32, f64 and bf16 (computed in f32)
// tensors and validate their arguments (errors name the op or layer and the shapes).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "democratising/core/tensor.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/module.hpp"

namespace dm::nn {

/// torch.nn.functional.embedding: the rows of weight (num, dim) picked by integer `indices`
/// (i32 or i64, any shape), giving (..., dim). The weight's gradient adds the rows of the
/// output's gradient that share an index, in a fixed order (bitwise the same for any thread
/// count). An index outside [0, num) is a ValueError naming it and its position.
Tensor embedding(const Tensor& indices, const Tensor& weight);

/// torch.nn.functional.scaled_dot_product_attention: softmax(scale * q k^T + mask) v per batch
/// and head, with q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv), giving (B, H, Lq, Dv).
/// `causal` hides key j from query i when j > i (top-left aligned); scale defaults to
/// 1 / sqrt(D). Fused: the Lq x Lk weights never become a tensor, and the backward recomputes
/// them from the forward's row logsumexps. Views whose last dim is contiguous (a head split
/// out of a (B, L, H, D) projection) are read in place. Shapes that do not fit are a ShapeError.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = false,
                                    std::optional<double> scale = std::nullopt);

/// A lookup table of `num` vectors of size `dim`, initialised N(0, 1) like torch.nn.Embedding
/// (from the global generator). forward takes an integer tensor of indices, see nn::embedding.
class Embedding : public Module {
 public:
  /// `num` vectors of size `dim`, both at least 1, of `dtype`.
  Embedding(std::int64_t num, std::int64_t dim, DType dtype = DType::f32);
  Tensor forward(const Tensor& indices) const override;
  std::string name() const override;
  /// The table, (num, dim).
  const Tensor& weight() const { return parameter(0); }

 private:
  std::int64_t num_, dim_;
};

/// Options of MultiheadAttention.
struct MultiheadAttentionOptions {
  /// Each position attends only to itself and earlier ones (see scaled_dot_product_attention).
  bool causal = false;
  /// Whether the input and output projections have biases.
  bool bias = true;
  /// The parameters' dtype.
  DType dtype = DType::f32;
};

/// torch.nn.MultiheadAttention with batch_first=True and no dropout: inputs (B, L, E) are
/// projected to queries, keys and values by in_proj_weight (3E, E) and in_proj_bias (3E),
/// split into num_heads heads of E / num_heads, attended (scaled_dot_product_attention) and
/// projected back by out_proj (a Dense(E, E)). Parameters are named and initialised like
/// PyTorch's: in_proj_weight Xavier-uniform, out_proj.weight uniform in +-1/sqrt(E), biases 0.
/// Copies of the layer share out_proj, as copies of any module share their children.
class MultiheadAttention : public Module {
 public:
  /// embed_dim must be a positive multiple of num_heads (else a ShapeError).
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads, MultiheadAttentionOptions options = {});
  /// Self-attention of x (B, L, E): queries, keys and values all come from x.
  Tensor forward(const Tensor& x) const override;
  /// Attention of query (B, Lq, E) over key and value (B, Lk, E), giving (B, Lq, E).
  Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value) const;
  std::string name() const override;
  /// The stacked query, key and value projection, (3E, E).
  const Tensor& in_proj_weight() const { return parameter(0); }
  /// Its bias (3E), or null for a layer made without biases.
  const Tensor* in_proj_bias() const { return has_bias_ ? &parameter(1) : nullptr; }
  /// The output projection.
  const Dense& out_proj() const { return *out_proj_; }
  /// E.
  std::int64_t embed_dim() const { return embed_dim_; }
  /// The number of heads.
  std::int64_t num_heads() const { return heads_; }

 private:
  Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v) const;

  std::int64_t embed_dim_, heads_;
  bool causal_, has_bias_;
  std::shared_ptr<Dense> out_proj_;
};

}  // namespace dm::nn
