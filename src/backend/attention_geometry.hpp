#pragma once
// The geometry of scaled dot-product attention, worked out and checked by the ops layer;
// kernels only read it.
#include <cstdint>

namespace dm::backend {

/// Where the (batch, head) matrices of one attention operand lie: element [b, h, i, j] is at
/// data + b * batch + h * head + i * row + j (items). The last dim is always contiguous and
/// row >= the row length, so each (b, h) slice is a row-major matrix with leading dimension
/// `row` that BLAS takes as it is (a head split out of a (B, L, H, D) projection needs no copy).
struct AttentionLayout {
  std::int64_t batch = 0, head = 0, row = 0;
};

/// out (B, H, Lq, Dv) = softmax(scale * q k^T + mask) v per (batch, head), with
/// q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv); causal masks key j > query i (the
/// top-left aligned lower triangle, torch.nn.functional.scaled_dot_product_attention's
/// is_causal), so every query row keeps key 0. Lk, D and Dv are at least 1.
struct AttentionGeometry {
  std::int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0, value_dim = 0;
  double scale = 1.0;
  bool causal = false;
  /// Forward: out is written through `o`. Backward: the output's gradient is read through `o`.
  AttentionLayout q, k, v, o;
};

}  // namespace dm::backend
