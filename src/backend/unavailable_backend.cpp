#include "backend/unavailable_backend.hpp"

#include <utility>

#include "democratising/base/error.hpp"

namespace dm::backend {

UnavailableBackend::UnavailableBackend(std::string device_name, std::string reason)
    : device_name_(std::move(device_name)), reason_(std::move(reason)) {}

// One definition per entry; each names itself, so an error says which kernel is missing.
void UnavailableBackend::unavailable(const char* entry) const {
  throw DeviceError("[" + device_name_ + ": " + entry + "] " + reason_);
}

void* UnavailableBackend::allocate(std::size_t, int) { unavailable("allocate"); }
// Nothing was ever allocated, and a destructor must not throw.
void UnavailableBackend::release(void*, std::size_t, int) {}
void UnavailableBackend::copy_from_host(void*, const void*, std::size_t, int, Stream) {
  unavailable("copy_from_host");
}
void UnavailableBackend::copy_to_host(void*, const void*, std::size_t, int, Stream) { unavailable("copy_to_host"); }
void UnavailableBackend::copy_on_device(void*, int, const void*, int, std::size_t, Stream) {
  unavailable("copy_on_device");
}
void UnavailableBackend::synchronize(int) { unavailable("synchronize"); }
void UnavailableBackend::unary(UnaryOp, const Output&, const Operand&, UnaryParams, DType) { unavailable("unary"); }
void UnavailableBackend::binary(BinaryOp, const Output&, const Operand&, const Operand&, DType) {
  unavailable("binary");
}
void UnavailableBackend::binary_scalar(BinaryOp, const Output&, const Operand&, double, ScalarSide, DType) {
  unavailable("binary_scalar");
}
void UnavailableBackend::compare(CompareOp, const Output&, const Operand&, const Operand&, DType) {
  unavailable("compare");
}
void UnavailableBackend::compare_scalar(CompareOp, const Output&, const Operand&, double, DType) {
  unavailable("compare_scalar");
}
void UnavailableBackend::where(const Output&, const Operand&, const Operand&, const Operand&) {
  unavailable("where");
}
void UnavailableBackend::copy(const Output&, const Operand&) { unavailable("copy"); }
void UnavailableBackend::fill(const Output&, double) { unavailable("fill"); }
void UnavailableBackend::unary_backward(UnaryGradOp, DType, const std::byte*, const std::byte*, const std::byte*, std::byte*, std::int64_t) {
  unavailable("unary_backward");
}
void UnavailableBackend::reduce_sum(SumKind, const std::byte*, DType, ReduceGeometry, std::int64_t, std::byte*) {
  unavailable("reduce_sum");
}
void UnavailableBackend::reduce_extreme(Extreme, const std::byte*, DType, ReduceGeometry, std::byte*, std::int64_t*) {
  unavailable("reduce_extreme");
}
void UnavailableBackend::softmax(SoftmaxKind, const std::byte*, DType, ReduceGeometry, std::byte*) {
  unavailable("softmax");
}
void UnavailableBackend::logsumexp(const std::byte*, DType, ReduceGeometry, std::byte*) { unavailable("logsumexp"); }
void UnavailableBackend::gemm(DType, const GemmShape&, const GemmOperand&, const GemmOperand&, std::byte*, double, double, Schedule) {
  unavailable("gemm");
}
void UnavailableBackend::index_select(const Output&, const std::byte*, const Strides&, int, const std::int64_t*) {
  unavailable("index_select");
}
void UnavailableBackend::random_uniform(std::byte*, DType, std::int64_t, std::uint64_t, std::uint64_t, double, double) {
  unavailable("random_uniform");
}
void UnavailableBackend::random_normal(std::byte*, DType, std::int64_t, std::uint64_t, std::uint64_t, double, double) {
  unavailable("random_normal");
}
void UnavailableBackend::random_int(std::int64_t*, std::int64_t, std::uint64_t, std::uint64_t, std::int64_t, std::int64_t) {
  unavailable("random_int");
}
void UnavailableBackend::bias_add_rows(DType, std::byte*, const std::byte*, std::int64_t, std::int64_t) {
  unavailable("bias_add_rows");
}
bool UnavailableBackend::all_finite(const std::byte*, DType, std::int64_t) { unavailable("all_finite"); }
void UnavailableBackend::sum_rows(DType, const std::byte*, std::byte*, std::int64_t, std::int64_t) {
  unavailable("sum_rows");
}
void UnavailableBackend::layer_norm_forward(DType, const std::byte*, const std::byte*, const std::byte*, std::byte*, std::byte*, std::byte*, std::int64_t, std::int64_t, double) {
  unavailable("layer_norm_forward");
}
void UnavailableBackend::layer_norm_backward(DType, const std::byte*, const std::byte*, const std::byte*, const std::byte*, const std::byte*, std::byte*, std::byte*, std::byte*, std::int64_t, std::int64_t) {
  unavailable("layer_norm_backward");
}
void UnavailableBackend::cross_entropy_forward(DType, const std::byte*, const std::int64_t*, std::byte*, double*, std::int64_t, std::int64_t) {
  unavailable("cross_entropy_forward");
}
void UnavailableBackend::cross_entropy_backward(DType, const std::byte*, const std::int64_t*, std::byte*, double, std::int64_t, std::int64_t) {
  unavailable("cross_entropy_backward");
}
double UnavailableBackend::nll_sum(DType, const std::byte*, const std::int64_t*, std::int64_t, std::int64_t) {
  unavailable("nll_sum");
}
void UnavailableBackend::nll_backward(DType, std::byte*, const std::int64_t*, double, std::int64_t, std::int64_t) {
  unavailable("nll_backward");
}
double UnavailableBackend::squared_error_sum(DType, const std::byte*, const std::byte*, std::int64_t) {
  unavailable("squared_error_sum");
}
void UnavailableBackend::scaled_difference(DType, const std::byte*, const std::byte*, std::byte*, double, std::int64_t) {
  unavailable("scaled_difference");
}
void UnavailableBackend::dropout_mask(DType, std::byte*, double, std::int64_t) { unavailable("dropout_mask"); }
void UnavailableBackend::multiply(DType, const std::byte*, const std::byte*, std::byte*, std::int64_t) {
  unavailable("multiply");
}
void UnavailableBackend::sgd_step(DType, std::byte*, const std::byte*, std::byte*, std::int64_t, const SgdStep&) {
  unavailable("sgd_step");
}
void UnavailableBackend::adam_step(DType, std::byte*, const std::byte*, std::byte*, std::byte*, std::int64_t, const AdamStep&) {
  unavailable("adam_step");
}
void UnavailableBackend::add_scaled_many(float*, std::span<const float* const>, float, std::int64_t) {
  unavailable("add_scaled_many");
}
void UnavailableBackend::weighted_sum(DType, std::byte*, std::span<const std::byte* const>, std::span<const double>, std::int64_t) {
  unavailable("weighted_sum");
}

void UnavailableBackend::conv2d_forward(DType, const Conv2dGeometry&, const std::byte*, const std::byte*,
                                        const std::byte*, std::byte*) {
  unavailable("conv2d_forward");
}
void UnavailableBackend::conv2d_backward(DType, const Conv2dGeometry&, const std::byte*, const std::byte*,
                                         const std::byte*, std::byte*, std::byte*, std::byte*) {
  unavailable("conv2d_backward");
}
void UnavailableBackend::max_pool2d_forward(DType, const Pool2dGeometry&, const std::byte*, std::byte*,
                                            std::int64_t*) {
  unavailable("max_pool2d_forward");
}
void UnavailableBackend::max_pool2d_backward(DType, const Pool2dGeometry&, const std::byte*, const std::int64_t*,
                                             std::byte*) {
  unavailable("max_pool2d_backward");
}
void UnavailableBackend::avg_pool2d_forward(DType, const Pool2dGeometry&, bool, const std::byte*, std::byte*) {
  unavailable("avg_pool2d_forward");
}
void UnavailableBackend::avg_pool2d_backward(DType, const Pool2dGeometry&, bool, const std::byte*, std::byte*) {
  unavailable("avg_pool2d_backward");
}
void UnavailableBackend::adaptive_avg_pool2d_forward(DType, const Pool2dGeometry&, const std::byte*, std::byte*) {
  unavailable("adaptive_avg_pool2d_forward");
}
void UnavailableBackend::adaptive_avg_pool2d_backward(DType, const Pool2dGeometry&, const std::byte*, std::byte*) {
  unavailable("adaptive_avg_pool2d_backward");
}
void UnavailableBackend::embedding_backward(DType, const std::byte*, const std::int64_t*, std::int64_t, std::int64_t,
                                            std::int64_t, std::byte*) {
  unavailable("embedding_backward");
}
void UnavailableBackend::attention_forward(DType, const AttentionGeometry&, const std::byte*, const std::byte*,
                                           const std::byte*, std::byte*, std::byte*) {
  unavailable("attention_forward");
}
void UnavailableBackend::attention_backward(DType, const AttentionGeometry&, const std::byte*, const std::byte*,
                                            const std::byte*, const std::byte*, const std::byte*, std::byte*,
                                            std::byte*, std::byte*) {
  unavailable("attention_backward");
}

void UnavailableBackend::batch_norm_forward(DType, const NormGeometry&, const std::byte*, const std::byte*,
                                            const std::byte*, const std::byte*, const std::byte*, bool, double,
                                            std::byte*, std::byte*, std::byte*, std::byte*) {
  unavailable("batch_norm_forward");
}
void UnavailableBackend::batch_norm_backward(DType, const NormGeometry&, const std::byte*, const std::byte*,
                                             const std::byte*, const std::byte*, const std::byte*, bool, std::byte*,
                                             std::byte*, std::byte*) {
  unavailable("batch_norm_backward");
}
void UnavailableBackend::batch_norm_statistics(DType, const NormGeometry&, const std::byte*, std::byte*) {
  unavailable("batch_norm_statistics");
}
void UnavailableBackend::batch_norm_combine_statistics(std::int64_t, std::int64_t, const std::byte*, double,
                                                       std::byte*) {
  unavailable("batch_norm_combine_statistics");
}
void UnavailableBackend::batch_norm_normalize(DType, const NormGeometry&, const std::byte*, const std::byte*,
                                              const std::byte*, const std::byte*, const std::byte*, std::byte*) {
  unavailable("batch_norm_normalize");
}
void UnavailableBackend::batch_norm_backward_sums(DType, const NormGeometry&, const std::byte*, const std::byte*,
                                                  const std::byte*, const std::byte*, std::byte*) {
  unavailable("batch_norm_backward_sums");
}
void UnavailableBackend::batch_norm_backward_input(DType, const NormGeometry&, const std::byte*, const std::byte*,
                                                   const std::byte*, const std::byte*, const std::byte*,
                                                   const std::byte*, double, std::byte*) {
  unavailable("batch_norm_backward_input");
}
void UnavailableBackend::group_norm_forward(DType, const NormGeometry&, const std::byte*, const std::byte*,
                                            const std::byte*, double, std::byte*, std::byte*, std::byte*) {
  unavailable("group_norm_forward");
}
void UnavailableBackend::group_norm_backward(DType, const NormGeometry&, const std::byte*, const std::byte*,
                                             const std::byte*, const std::byte*, const std::byte*, std::byte*,
                                             std::byte*, std::byte*) {
  unavailable("group_norm_backward");
}

}  // namespace dm::backend
