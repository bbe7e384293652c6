// Without a usable CUDA device, the backend registered for CUDA devices throws a DeviceError
// from every entry, naming the entry: with CUDA not built (the no-CUDA stand-in) it also says
// so, and with CUDA built but no device the CUDA runtime's own reason is given, except for
// the entries the CUDA backend has no kernel for yet, which say that instead (kNoCudaKernelYet
// is the list). Code above the seam needs no #ifdef, and a missing backend is never a crash.
// The walk below calls every entry of the Backend interface once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace {

using dm::backend::Backend;
using testing::HasSubstr;
using testing::Not;

// The entries of the walk below that the CUDA backend does not implement yet: with CUDA built,
// each of them says it has no CUDA kernel, and every other entry must not. Empty: every entry
// has a CUDA kernel.
const std::set<std::string> kNoCudaKernelYet = {};

struct Entry {
  const char* name;
  std::function<void(Backend&)> call;
};

std::vector<Entry> every_entry() {
  using namespace dm;
  using namespace dm::backend;
  static std::byte buf[64];
  static std::int64_t idx[1] = {0};
  static float f[1] = {0};
  const Output out{buf, DType::f32, Shape{1}, Strides{1}, true};
  const Operand in{buf, DType::f32, Strides{1}};
  const GemmOperand g{buf, {}, false, 1};
  const float* deltas[1] = {f};
  const std::byte* sources[1] = {buf};
  const double weights[1] = {1.0};
  const Conv2dGeometry conv{1, 1, 1, 1, 1, 1, 1};
  const Pool2dGeometry pool{1, 1, 1, 1, 1};
  const AttentionGeometry attention{1, 1, 1, 1, 1, 1, 1.0, false, {}, {}, {}, {}};
  const NormGeometry norm{1, 1, 1, 1};
  return {
      {"allocate", [](Backend& b) { b.allocate(16, 0); }},
      {"copy_from_host", [](Backend& b) { b.copy_from_host(buf, buf, 4, 0, {}); }},
      {"copy_to_host", [](Backend& b) { b.copy_to_host(buf, buf, 4, 0, {}); }},
      {"copy_on_device", [](Backend& b) { b.copy_on_device(buf, 0, buf, 0, 4, {}); }},
      {"synchronize", [](Backend& b) { b.synchronize(0); }},
      {"unary", [=](Backend& b) { b.unary(UnaryOp::exp, out, in, {}, DType::f32); }},
      {"binary", [=](Backend& b) { b.binary(BinaryOp::add, out, in, in, DType::f32); }},
      {"binary_scalar", [=](Backend& b) { b.binary_scalar(BinaryOp::add, out, in, 1.0, ScalarSide::right, DType::f32); }},
      {"compare", [=](Backend& b) { b.compare(CompareOp::eq, out, in, in, DType::f32); }},
      {"compare_scalar", [=](Backend& b) { b.compare_scalar(CompareOp::eq, out, in, 1.0, DType::f32); }},
      {"where", [=](Backend& b) { b.where(out, in, in, in); }},
      {"copy", [=](Backend& b) { b.copy(out, in); }},
      {"fill", [=](Backend& b) { b.fill(out, 1.0); }},
      {"unary_backward", [](Backend& b) { b.unary_backward(UnaryGradOp::relu, DType::f32, buf, buf, buf, buf, 1); }},
      {"reduce_sum", [](Backend& b) { b.reduce_sum(SumKind::sum, buf, DType::f32, {}, 0, buf); }},
      {"reduce_extreme", [](Backend& b) { b.reduce_extreme(Extreme::max, buf, DType::f32, {}, buf, nullptr); }},
      {"softmax", [](Backend& b) { b.softmax(SoftmaxKind::softmax, buf, DType::f32, {}, buf); }},
      {"logsumexp", [](Backend& b) { b.logsumexp(buf, DType::f32, {}, buf); }},
      {"gemm", [=](Backend& b) { b.gemm(DType::f32, {1, 1, 1, 1}, g, g, buf, 1.0, 0.0, Schedule::parallel); }},
      {"index_select", [=](Backend& b) { b.index_select(out, buf, Strides{1}, 0, idx); }},
      {"random_uniform", [](Backend& b) { b.random_uniform(buf, DType::f32, 1, 0, 0, 0.0, 1.0); }},
      {"random_normal", [](Backend& b) { b.random_normal(buf, DType::f32, 1, 0, 0, 0.0, 1.0); }},
      {"random_int", [](Backend& b) { b.random_int(idx, 1, 0, 0, 0, 2); }},
      {"bias_add_rows", [](Backend& b) { b.bias_add_rows(DType::f32, buf, buf, 1, 1); }},
      {"all_finite", [](Backend& b) { b.all_finite(buf, DType::f32, 1); }},
      {"sum_rows", [](Backend& b) { b.sum_rows(DType::f32, buf, buf, 1, 1); }},
      {"layer_norm_forward",
       [](Backend& b) { b.layer_norm_forward(DType::f32, buf, nullptr, nullptr, buf, buf, buf, 1, 1, 1e-5); }},
      {"layer_norm_backward",
       [](Backend& b) { b.layer_norm_backward(DType::f32, buf, buf, nullptr, buf, buf, buf, nullptr, nullptr, 1, 1); }},
      {"cross_entropy_forward",
       [](Backend& b) {
         double loss = 0;
         b.cross_entropy_forward(DType::f32, buf, idx, buf, &loss, 1, 1);
       }},
      {"cross_entropy_backward", [](Backend& b) { b.cross_entropy_backward(DType::f32, buf, idx, buf, 1.0, 1, 1); }},
      {"nll_sum", [](Backend& b) { b.nll_sum(DType::f32, buf, idx, 1, 1); }},
      {"nll_backward", [](Backend& b) { b.nll_backward(DType::f32, buf, idx, 1.0, 1, 1); }},
      {"squared_error_sum", [](Backend& b) { b.squared_error_sum(DType::f32, buf, buf, 1); }},
      {"scaled_difference", [](Backend& b) { b.scaled_difference(DType::f32, buf, buf, buf, 1.0, 1); }},
      {"dropout_mask", [](Backend& b) { b.dropout_mask(DType::f32, buf, 0.5, 1); }},
      {"multiply", [](Backend& b) { b.multiply(DType::f32, buf, buf, buf, 1); }},
      {"sgd_step", [](Backend& b) { b.sgd_step(DType::f32, buf, buf, nullptr, 1, {}); }},
      {"adam_step", [](Backend& b) { b.adam_step(DType::f32, buf, buf, buf, buf, 1, {}); }},
      {"add_scaled_many", [=](Backend& b) { b.add_scaled_many(f, deltas, 1.0f, 1); }},
      {"weighted_sum", [=](Backend& b) { b.weighted_sum(DType::f32, buf, sources, weights, 1); }},
      {"conv2d_forward", [=](Backend& b) { b.conv2d_forward(DType::f32, conv, buf, buf, nullptr, buf); }},
      {"conv2d_backward",
       [=](Backend& b) { b.conv2d_backward(DType::f32, conv, buf, buf, buf, buf, buf, buf); }},
      {"max_pool2d_forward", [=](Backend& b) { b.max_pool2d_forward(DType::f32, pool, buf, buf, idx); }},
      {"max_pool2d_backward", [=](Backend& b) { b.max_pool2d_backward(DType::f32, pool, buf, idx, buf); }},
      {"avg_pool2d_forward", [=](Backend& b) { b.avg_pool2d_forward(DType::f32, pool, true, buf, buf); }},
      {"avg_pool2d_backward", [=](Backend& b) { b.avg_pool2d_backward(DType::f32, pool, true, buf, buf); }},
      {"adaptive_avg_pool2d_forward", [=](Backend& b) { b.adaptive_avg_pool2d_forward(DType::f32, pool, buf, buf); }},
      {"adaptive_avg_pool2d_backward",
       [=](Backend& b) { b.adaptive_avg_pool2d_backward(DType::f32, pool, buf, buf); }},
      {"embedding_backward", [](Backend& b) { b.embedding_backward(DType::f32, buf, idx, 1, 1, 1, buf); }},
      {"attention_forward", [=](Backend& b) { b.attention_forward(DType::f32, attention, buf, buf, buf, buf, buf); }},
      {"attention_backward",
       [=](Backend& b) { b.attention_backward(DType::f32, attention, buf, buf, buf, buf, buf, buf, buf, buf); }},
      {"batch_norm_forward",
       [=](Backend& b) {
         b.batch_norm_forward(DType::f32, norm, buf, nullptr, nullptr, nullptr, nullptr, true, 1e-5, buf, buf, buf,
                              nullptr);
       }},
      {"batch_norm_backward",
       [=](Backend& b) { b.batch_norm_backward(DType::f32, norm, buf, buf, nullptr, buf, buf, true, buf, buf, buf); }},
      {"batch_norm_statistics", [=](Backend& b) { b.batch_norm_statistics(DType::f32, norm, buf, buf); }},
      {"batch_norm_combine_statistics", [=](Backend& b) { b.batch_norm_combine_statistics(1, 1, buf, 1e-5, buf); }},
      {"batch_norm_normalize",
       [=](Backend& b) { b.batch_norm_normalize(DType::f32, norm, buf, nullptr, nullptr, buf, buf, buf); }},
      {"batch_norm_backward_sums",
       [=](Backend& b) { b.batch_norm_backward_sums(DType::f32, norm, buf, buf, buf, buf, buf); }},
      {"batch_norm_backward_input",
       [=](Backend& b) { b.batch_norm_backward_input(DType::f32, norm, buf, buf, nullptr, buf, buf, buf, 2.0, buf); }},
      {"group_norm_forward",
       [=](Backend& b) { b.group_norm_forward(DType::f32, norm, buf, nullptr, nullptr, 1e-5, buf, buf, buf); }},
      {"group_norm_backward",
       [=](Backend& b) { b.group_norm_backward(DType::f32, norm, buf, buf, nullptr, buf, buf, buf, buf, buf); }},
  };
}

TEST(NoCudaBackend, EveryEntryThrowsADeviceErrorNamingIt) {
  if (dm::backend::device_count(dm::DeviceKind::cuda, nullptr) > 0) GTEST_SKIP() << "a CUDA device is present";
  const bool built = dm::backend::is_built(dm::DeviceKind::cuda);
  Backend& cuda = dm::backend::backend_for(dm::Device{dm::DeviceKind::cuda, 0});
  EXPECT_EQ(cuda.name(), "cuda");
  const std::vector<Entry> entries = every_entry();
  // Every virtual entry but name() and release() (which must not throw: it runs in destructors).
  EXPECT_EQ(entries.size(), 60u);
  for (const Entry& e : entries) {
    SCOPED_TRACE(e.name);
    try {
      e.call(cuda);
      ADD_FAILURE() << e.name << " did not throw";
    } catch (const dm::DeviceError& err) {
      EXPECT_THAT(err.what(), HasSubstr(std::string("cuda: ") + e.name + "]"));
      if (!built) {
        EXPECT_THAT(err.what(), HasSubstr("CUDA was not built"));
      } else if (kNoCudaKernelYet.count(e.name) > 0) {
        EXPECT_THAT(err.what(), HasSubstr("has no CUDA kernel"));
      } else {
        EXPECT_THAT(err.what(), Not(HasSubstr("has no CUDA kernel")));
      }
    }
  }
  cuda.release(nullptr, 0, 0);  // nothing to give back, and no exception
}

TEST(NoCudaBackend, TensorsOnACudaDeviceFailWithTheReason) {
  if (dm::backend::device_count(dm::DeviceKind::cuda, nullptr) > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_THROW(dm::Tensor::zeros({2}, dm::DType::f32, dm::Device{dm::DeviceKind::cuda, 0}), dm::DeviceError);
  EXPECT_EQ(dm::backend::device_count(dm::DeviceKind::cuda, nullptr), 0);
  EXPECT_EQ(dm::backend::device_count(dm::DeviceKind::cpu, nullptr), 1);
}

TEST(BackendRegistry, CpuDevicesShareTheCpuBackend) {
  EXPECT_EQ(&dm::backend::backend_for(dm::Device::cpu()), &dm::backend::backend_for(dm::Device::cpu(3)));
  EXPECT_EQ(dm::backend::backend_for(dm::Device::cpu()).name(), "cpu");
}

}  // namespace
