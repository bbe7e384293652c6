// `dm train` computes bit for bit what it computed before the kernels moved behind the
// backend interface: the final tensors of three short runs (SGD with momentum, AdamW, and a
// deeper net on one thread) are hashed and compared with digests recorded by the code before
// that change. A kernel that rounds differently, reorders a sum or draws other random numbers
// changes a digest. If a change of results is intended, the new digests are printed on failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "democratising/io/safetensors.hpp"

namespace {

using cli_test::Result;
using cli_test::ScratchDir;
using cli_test::run_dm;

// FNV-1a over every tensor of a checkpoint, in name order: name, dtype, shape and bytes.
std::uint64_t checkpoint_digest(const std::string& path) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
  };
  const std::map<std::string, dm::Tensor> tensors = dm::io::load_safetensors(path);
  for (const auto& [name, t] : tensors) {
    mix(name.data(), name.size());
    const int dtype = static_cast<int>(t.dtype());
    mix(&dtype, sizeof dtype);
    for (std::int64_t d : t.shape()) mix(&d, sizeof d);
    mix(t.data_ptr(), static_cast<std::size_t>(t.numel()) * dm::itemsize(t.dtype()));
  }
  return h;
}

std::string hex(std::uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

struct TrainRun {
  const char* name;
  std::vector<std::string> args;
  std::uint64_t digest;  // recorded with the code before the backend interface
};

TEST(TrainDigest, ShortRunsEqualTheRecordedResults) {
  DM_REQUIRE_CLI_AND_DATA();
  const std::vector<TrainRun> runs = {
      {"sgd-momentum",
       {"--model", "mlp:784-64-32-10", "--limit", "1500", "--epochs", "2", "--seed", "11", "--threads", "2"},
       0x85b035444c528a40ULL},
      {"adamw",
       {"--model", "mlp:784-48-10", "--limit", "1000", "--epochs", "1", "--seed", "5", "--optimizer", "adamw", "--lr",
        "0.002", "--batch-size", "50", "--threads", "2"},
       0x60e0af16c305f94aULL},
      {"one-thread-constant-lr",
       {"--model", "mlp:784-32-32-10", "--limit", "1200", "--epochs", "1", "--seed", "3", "--schedule", "constant",
        "--threads", "1"},
       0x24a2de3e2dd17b1dULL},
  };
  ScratchDir dir;
  for (const TrainRun& run : runs) {
    SCOPED_TRACE(run.name);
    std::vector<std::string> args = {"train"};
    args.insert(args.end(), run.args.begin(), run.args.end());
    const std::string ckpt = (dir / (std::string(run.name) + ".safetensors")).string();
    args.insert(args.end(), {"--checkpoint", ckpt});
    const Result r = run_dm(args, dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(hex(checkpoint_digest(ckpt)), hex(run.digest)) << "digest of run " << run.name;
  }
}

}  // namespace
