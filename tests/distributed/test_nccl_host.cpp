// The host-side logic of the NCCL transport, checked without a GPU: one GPU per local rank,
// loading NCCL at run time, NCCL's results as errors, the deadline of a polled wait, and
// World::nccl's refusal to start where there is no GPU.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "democratising/base/device.hpp"
#include "democratising/base/error.hpp"
#include "democratising/distributed/world.hpp"
#include "distributed/collective_poll.hpp"
#include "distributed/gpu_assignment.hpp"
#include "distributed/nccl_errors.hpp"
#include "distributed/nccl_library.hpp"

namespace dm::dist {
namespace {

using detail::LocalRank;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

template <class E, class Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

TEST(NcclGpuAssignment, LocalRanksCountTheRanksOfTheSameHostInRankOrder) {
  const std::vector<std::string> hosts = {"a", "b", "a", "c", "a", "b"};
  const int expected_rank[] = {0, 0, 1, 0, 2, 1};
  const int expected_size[] = {3, 2, 3, 1, 3, 2};
  for (int r = 0; r < 6; ++r) {
    const LocalRank local = detail::local_rank_among(hosts, r);
    EXPECT_EQ(local.rank, expected_rank[r]) << "rank " << r;
    EXPECT_EQ(local.size, expected_size[r]) << "rank " << r;
  }
  EXPECT_THROW(detail::local_rank_among(hosts, 6), ValueError);
}

TEST(NcclGpuAssignment, EachLocalRankGetsItsOwnGpu) {
  EXPECT_EQ(detail::gpu_for_local_rank({0, 1}, 1, ""), 0);
  EXPECT_EQ(detail::gpu_for_local_rank({3, 4}, 8, ""), 3);
}

TEST(NcclGpuAssignment, NoGpuOrTooFewAreDeviceErrorsThatSayWhy) {
  const std::string none =
      message_of<DeviceError>([] { detail::gpu_for_local_rank({0, 1}, 0, "no CUDA device: driver missing"); });
  EXPECT_TRUE(contains(none, "no CUDA device: driver missing")) << none;
  const std::string shared = message_of<DeviceError>([] { detail::gpu_for_local_rank({1, 3}, 2, ""); });
  EXPECT_TRUE(contains(shared, "3 ranks on this host but 2 GPU(s)")) << shared;
  EXPECT_TRUE(contains(shared, "share a GPU")) << shared;
}

TEST(NcclLibrary, AMissingLibraryIsADeviceErrorNamingIt) {
  const std::string path = "/nonexistent/dm-test/libnccl.so.2";
  const std::string what = message_of<DeviceError>([&] { nccl::load_library(path); });
  EXPECT_TRUE(contains(what, "cannot load " + path)) << what;
  EXPECT_TRUE(contains(what, "DM_NCCL_LIBRARY")) << what;
}

TEST(NcclLibrary, ALibraryWithoutNcclsSymbolsIsADeviceErrorNamingTheSymbol) {
  // The C maths library loads everywhere and has none of NCCL's entry points.
  const std::string what = message_of<DeviceError>([] { nccl::load_library("libm.so.6"); });
  EXPECT_TRUE(contains(what, "libm.so.6 has no symbol ncclGetVersion")) << what;
}

TEST(NcclLibrary, TheEnvironmentChoosesTheFile) {
  const char* before = std::getenv("DM_NCCL_LIBRARY");
  const std::string kept = before ? before : "";
  ::unsetenv("DM_NCCL_LIBRARY");
  EXPECT_EQ(nccl::default_library_path(), "libnccl.so.2");
  ::setenv("DM_NCCL_LIBRARY", "/opt/nccl/lib/libnccl.so.2", 1);
  EXPECT_EQ(nccl::default_library_path(), "/opt/nccl/lib/libnccl.so.2");
  if (before)
    ::setenv("DM_NCCL_LIBRARY", kept.c_str(), 1);
  else
    ::unsetenv("DM_NCCL_LIBRARY");
}

TEST(NcclErrors, ResultsMapToTypedErrorsNamingOperationAndRank) {
  EXPECT_NO_THROW(nccl::throw_if_failed(nccl::kSuccess, "all_reduce", 0));
  EXPECT_NO_THROW(nccl::throw_if_failed(nccl::kInProgress, "all_reduce", 0));
  const std::string cuda = message_of<DeviceError>([] {
    nccl::throw_if_failed(nccl::kUnhandledCudaError, "all_reduce", 2, "unhandled cuda error");
  });
  EXPECT_TRUE(contains(cuda, "[all_reduce] rank 2")) << cuda;
  EXPECT_TRUE(contains(cuda, "ncclUnhandledCudaError (unhandled cuda error)")) << cuda;
  EXPECT_THROW(nccl::throw_if_failed(nccl::kSystemError, "broadcast", 0), DeviceError);
  EXPECT_THROW(nccl::throw_if_failed(nccl::kInvalidArgument, "broadcast", 0), ValueError);
  EXPECT_THROW(nccl::throw_if_failed(nccl::kInvalidUsage, "broadcast", 0), DistributedError);
  EXPECT_THROW(nccl::throw_if_failed(nccl::kInternalError, "broadcast", 0), DistributedError);
  const std::string remote = message_of<DistributedError>([] { nccl::throw_if_failed(nccl::kRemoteError, "all_gather", 1); });
  EXPECT_TRUE(contains(remote, "another rank failed")) << remote;
  const std::string unknown = message_of<DistributedError>([] { nccl::throw_if_failed(42, "all_gather", 1); });
  EXPECT_TRUE(contains(unknown, "NCCL result 42")) << unknown;
}

TEST(NcclPoll, ACollectiveThatNeverFinishesIsATimeoutAfterTheAbort) {
  int polls = 0;
  int aborts = 0;
  const auto start = std::chrono::steady_clock::now();
  const std::string what = message_of<TimeoutError>([&] {
    detail::poll_until_done(
        [&] {
          ++polls;
          return detail::Progress::pending;
        },
        std::chrono::milliseconds(60), [&] { ++aborts; }, {"all_reduce", 3, "the other ranks"});
  });
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(what, "[all_reduce] rank 3 timed out after 60 ms waiting for the other ranks");
  EXPECT_EQ(aborts, 1) << "the communicator is aborted once, before the error";
  EXPECT_GE(waited, std::chrono::milliseconds(60));
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_GT(polls, 1);
}

TEST(NcclPoll, FinishedOrFailedWaitsEndWithoutTheAbort) {
  int polls = 0;
  int aborts = 0;
  detail::poll_until_done([&] { return ++polls == 3 ? detail::Progress::done : detail::Progress::pending; },
                          std::chrono::seconds(10), [&] { ++aborts; }, {"broadcast", 0, "the other ranks"});
  EXPECT_EQ(polls, 3);
  EXPECT_THROW(detail::poll_until_done([]() -> detail::Progress { throw DistributedError("peer failed"); },
                                       std::chrono::seconds(10), [&] { ++aborts; }, {"broadcast", 0, "x"}),
               DistributedError);
  EXPECT_EQ(aborts, 0);
}

TEST(NcclWorld, WithoutAGpuWorldNcclIsADeviceErrorBeforeAnyCollective) {
  if (dm::cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present: this checks the path without one";
  // No mpirun, no MPI started: the error comes before either would be needed.
  const std::string what = message_of<DeviceError>([] { World::nccl(); });
  EXPECT_TRUE(contains(what, "[World::nccl]")) << what;
  EXPECT_TRUE(contains(what, dm::cuda::is_built() ? dm::cuda::unavailable_reason() : "not built")) << what;
}

TEST(NcclWorld, CpuTransportsRefuseBf16AndNameTheWayToGpuCollectives) {
  run_local(1, [](World& world) {
    EXPECT_EQ(world.device(), Device::cpu());
    Tensor half = Tensor::ones(Shape{4}, DType::bf16);
    const std::string what = message_of<DTypeError>([&] { world.all_reduce(half); });
    EXPECT_TRUE(contains(what, "bf16 on cpu")) << what;
  });
}

}  // namespace
}  // namespace dm::dist
