// matmul with torch.matmul semantics: 1-d operands become a row (lhs) or a column (rhs) and
// lose that dim again in the result; operands of more than 2 dims are batches of matrices
// whose batch dims broadcast. This file checks, works out shapes and layouts, and hands a
// batched product to the backend's GEMM; it copies an operand only when no BLAS layout fits.
#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "core/kernel_args.hpp"
#include "ops/matmul_into.hpp"
#include "autograd/differentiable.hpp"
#include "ops/op_grads.hpp"
#include "autograd/version.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

constexpr const char* kOp = "matmul";

std::string operands_str(const TensorImpl& a, const TensorImpl& b) {
  return "[matmul] lhs " + a.shape.str() + " vs rhs " + b.shape.str();
}

// The (rows x cols) matrix formed by an operand's last two dims (a 1-d lhs is one row, a 1-d
// rhs one column), plus the dims in front of it, which index a batch of such matrices.
struct MatrixOperand {
  Tensor tensor;
  std::int64_t rows = 0, cols = 0;
  std::int64_t row_stride = 0, col_stride = 0;  // elements; meaningless along an extent of 1
  Shape batch_shape;
  Strides batch_strides;
};

MatrixOperand describe(const Tensor& t, bool is_lhs) {
  const TensorImpl& im = *t.impl();
  const int nd = im.shape.size();
  MatrixOperand op;
  op.tensor = t;
  if (nd == 1) {
    const std::int64_t len = im.shape[0], stride = im.strides[0];
    op.rows = is_lhs ? 1 : len;
    op.cols = is_lhs ? len : 1;
    op.row_stride = is_lhs ? 0 : stride;
    op.col_stride = is_lhs ? stride : 0;
    return op;
  }
  op.rows = im.shape[nd - 2];
  op.cols = im.shape[nd - 1];
  op.row_stride = im.strides[nd - 2];
  op.col_stride = im.strides[nd - 1];
  for (int d = 0; d < nd - 2; ++d) {
    op.batch_shape.push_back(im.shape[d]);
    op.batch_strides.push_back(im.strides[d]);
  }
  return op;
}

struct BlasLayout {
  bool transposed = false;
  std::int64_t ld = 0;
};

// How BLAS can read a (rows x cols) matrix with these strides in place: row-major (unit
// column stride), or column-major (unit row stride) passed as a transposed operand. Strides
// along an extent of 1 are never used, so they do not disqualify a layout. Nothing fits
// when neither stride is 1, or rows overlap (an expanded, stride-0 operand).
std::optional<BlasLayout> blas_layout(std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                                      std::int64_t col_stride) {
  const std::int64_t min_row_ld = cols > 1 ? cols : 1;
  const std::int64_t min_col_ld = rows > 1 ? rows : 1;
  if (cols == 1 || col_stride == 1) {
    const std::int64_t ld = rows == 1 ? min_row_ld : row_stride;
    if (ld >= min_row_ld && ld <= INT_MAX) return BlasLayout{false, ld};
  }
  if (rows == 1 || row_stride == 1) {
    const std::int64_t ld = cols == 1 ? min_col_ld : col_stride;
    if (ld >= min_col_ld && ld <= INT_MAX) return BlasLayout{true, ld};
  }
  return std::nullopt;
}

std::optional<BlasLayout> blas_layout(const MatrixOperand& op) {
  return blas_layout(op.rows, op.cols, op.row_stride, op.col_stride);
}

// NumPy broadcasting of the batch dims, with an error that names both operands.
Shape broadcast_batch(const MatrixOperand& a, const MatrixOperand& b, const TensorImpl& ai, const TensorImpl& bi) {
  const int na = a.batch_shape.size(), nb = b.batch_shape.size();
  const int n = na > nb ? na : nb;
  Shape out;
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - na), ib = i - (n - nb);
    const std::int64_t da = ia >= 0 ? a.batch_shape[ia] : 1;
    const std::int64_t db = ib >= 0 ? b.batch_shape[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(operands_str(ai, bi) + ": batch dimensions " + a.batch_shape.str() + " and " +
                       b.batch_shape.str() + " cannot be broadcast");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

// The operand's batch strides as read over the output's batch shape (0 where broadcast).
Strides expanded_batch_strides(const MatrixOperand& op, const Shape& batch) {
  const int n = batch.size(), m = op.batch_shape.size();
  Strides out;
  for (int i = 0; i < n; ++i) {
    const int j = i - (n - m);
    out.push_back(j >= 0 && op.batch_shape[j] != 1 ? op.batch_strides[j] : 0);
  }
  return out;
}

// Element offset of each batch item's matrix, batch items in row-major order.
std::vector<std::int64_t> batch_offsets(const Shape& batch, const Strides& strides, std::int64_t base) {
  const std::int64_t count = batch.numel();
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(count));
  std::int64_t index[kMaxDims] = {};
  std::int64_t offset = base;
  for (std::int64_t i = 0; i < count; ++i) {
    offsets[static_cast<std::size_t>(i)] = offset;
    for (int d = batch.size() - 1; d >= 0; --d) {  // odometer step
      offset += strides[d];
      if (++index[d] < batch[d]) break;
      offset -= strides[d] * batch[d];
      index[d] = 0;
    }
  }
  return offsets;
}

// (batch..., m, k) @ (k, n) where every batch item uses the same rhs and the lhs rows of
// consecutive items follow each other at one stride: a single (batch*m x k) product, which
// tiles better than many small ones. Returns the row stride of that tall matrix.
std::optional<std::int64_t> folded_row_stride(const MatrixOperand& a, const Strides& a_batch, const Strides& b_batch,
                                              const Shape& batch) {
  if (batch.numel() <= 1 || batch.numel() * a.rows > INT_MAX) return std::nullopt;
  for (int d = 0; d < batch.size(); ++d)
    if (batch[d] != 1 && b_batch[d] != 0) return std::nullopt;
  std::int64_t inner_size = a.rows, inner_stride = a.row_stride;
  for (int d = batch.size() - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    if (inner_size != 1 && a_batch[d] != inner_size * inner_stride) return std::nullopt;
    if (inner_size == 1) inner_stride = a_batch[d];
    inner_size *= batch[d];
  }
  return inner_stride;
}

backend::GemmOperand gemm_operand(const MatrixOperand& op, const BlasLayout& layout,
                                  const std::vector<std::int64_t>& offsets) {
  backend::GemmOperand g;
  g.data = op.tensor.impl()->data();
  g.batch_offsets = offsets;
  g.transposed = layout.transposed;
  g.ld = layout.ld;
  return g;
}

void check_blas_extent(std::int64_t v, const TensorImpl& a, const TensorImpl& b) {
  if (v > INT_MAX)
    throw ShapeError(operands_str(a, b) + ": extent " + std::to_string(v) + " exceeds the 32-bit BLAS interface");
}

// The product into `given` when it is defined (contiguous, of the result's shape and dtype,
// checked by the caller), else into fresh storage.
Tensor matmul_float(const Tensor& lhs, const Tensor& rhs, const Tensor& given = Tensor()) {
  const TensorImpl& ai = *lhs.impl();
  const TensorImpl& bi = *rhs.impl();
  MatrixOperand a = describe(lhs, true);
  MatrixOperand b = describe(rhs, false);
  if (a.cols != b.rows)
    throw ShapeError(operands_str(ai, bi) + ": inner dimensions " + std::to_string(a.cols) + " and " +
                     std::to_string(b.rows) + " differ");
  const Shape batch = broadcast_batch(a, b, ai, bi);
  const std::int64_t m = a.rows, n = b.cols, k = a.cols;
  Shape out_shape = batch;
  if (ai.shape.size() > 1) out_shape.push_back(m);
  if (bi.shape.size() > 1) out_shape.push_back(n);
  // A logical CPU device stays.
  Tensor out = given.defined() ? given : make_tensor(out_shape, ai.dtype, ai.storage->device());
  if (out_shape.numel() == 0) return out;
  if (k == 0) return out.zero_();

  for (std::int64_t v : {m, n, k}) check_blas_extent(v, ai, bi);
  // Only an operand that no BLAS layout fits is copied, and then only its own elements
  // (broadcast batch dims stay stride-0 reads of the copy). A contiguous copy always fits.
  if (!blas_layout(a)) a = describe(lhs.contiguous(), true);
  if (!blas_layout(b)) b = describe(rhs.contiguous(), false);
  BlasLayout a_layout = blas_layout(a).value();
  const BlasLayout b_layout = blas_layout(b).value();

  const Strides a_batch = expanded_batch_strides(a, batch);
  const Strides b_batch = expanded_batch_strides(b, batch);
  GemmShape shape{batch.numel(), m, n, k};
  std::vector<std::int64_t> a_offsets, b_offsets;
  const std::optional<std::int64_t> fold = folded_row_stride(a, a_batch, b_batch, batch);
  const std::optional<BlasLayout> folded = fold ? blas_layout(shape.batch * m, k, *fold, a.col_stride) : std::nullopt;
  if (folded) {
    a_layout = *folded;
    shape = GemmShape{1, shape.batch * m, n, k};
    a_offsets = {0};
    b_offsets = {0};
  } else {
    a_offsets = batch_offsets(batch, a_batch, 0);
    b_offsets = batch_offsets(batch, b_batch, 0);
  }

  backend_of(ai).gemm(ai.dtype, shape, gemm_operand(a, a_layout, a_offsets), gemm_operand(b, b_layout, b_offsets),
                      out.impl()->data(), 1.0, 0.0, Schedule::parallel);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& lhs, const Tensor& rhs) {
  const TensorImpl& ai = impl_of(lhs, kOp);
  const TensorImpl& bi = impl_of(rhs, kOp);
  common_device({&lhs, &rhs}, kOp);
  if (ai.shape.size() == 0 || bi.shape.size() == 0)
    throw ShapeError(operands_str(ai, bi) + ": both operands need at least 1 dimension, got " +
                     std::to_string(ai.shape.size()) + "-d and " + std::to_string(bi.shape.size()) + "-d");
  if (ai.dtype != bi.dtype)
    throw DTypeError("[matmul] lhs and rhs must have the same dtype, got " + std::string(dtype_name(ai.dtype)) +
                     " and " + std::string(dtype_name(bi.dtype)));
  if (ai.dtype != DType::bf16 && ai.dtype != DType::f32 && ai.dtype != DType::f64)
    throw DTypeError("[matmul] expects f32, f64 or bf16 operands, got " + std::string(dtype_name(ai.dtype)));
  // bf16 is multiplied as f32 and rounded once, natively where the backend can (tensor cores).
  const bool widen = ai.dtype == DType::bf16 && !backend_of(ai).gemm_takes_bf16();
  Tensor out = widen ? matmul_float(lhs.to(DType::f32), rhs.to(DType::f32)).to(DType::bf16) : matmul_float(lhs, rhs);
  if (autograd::needs_grad({&lhs, &rhs}))
    autograd::record(out, "matmul", {&lhs, &rhs}, autograd::matmul_backward(lhs, rhs));
  return out;
}

Tensor Tensor::matmul(const Tensor& other) const { return dm::matmul(*this, other); }

void matmul_into(const Tensor& lhs, const Tensor& rhs, const Tensor& out) {
  const TensorImpl& ai = impl_of(lhs, kOp);
  const TensorImpl& bi = impl_of(rhs, kOp);
  const TensorImpl& oi = impl_of(out, kOp);
  common_device({&lhs, &rhs, &out}, kOp);
  if (ai.shape.size() != 2 || bi.shape.size() != 2)
    throw ShapeError(operands_str(ai, bi) + ": matmul_into takes 2-d operands");
  if (ai.dtype != bi.dtype || ai.dtype != oi.dtype || (ai.dtype != DType::f32 && ai.dtype != DType::f64))
    throw DTypeError("[matmul] matmul_into needs f32 or f64 operands and output of one dtype");
  if (oi.shape != Shape{ai.shape[0], bi.shape[1]} || !out.is_contiguous())
    throw ShapeError(operands_str(ai, bi) + ": output " + oi.shape.str() + " must be contiguous with shape " +
                     Shape{ai.shape[0], bi.shape[1]}.str());
  if (out.shares_storage_with(lhs) || out.shares_storage_with(rhs))
    throw ValueError("[matmul] matmul_into's output must not share storage with an operand");
  autograd::prepare_inplace(out, "matmul_into");
  matmul_float(lhs, rhs, out);
}

}  // namespace dm
