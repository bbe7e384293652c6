// `dm train --distributed` under `mpirun -np 2` while one rank is stopped with SIGSTOP: the
// other must fail within the collective timeout, naming the silent rank and the collective,
// and the whole job must end by itself.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "apps/cli_runner.hpp"
#include "mpi_launch.hpp"

namespace {

using namespace std::chrono_literals;
using dm::dist::testing::MpiJob;

bool wait_until(const std::function<bool()>& ready, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(MpiLaunch, AStoppedRankFailsTheJobWithinTheTimeoutNamingItAndTheCollective) {
  DM_REQUIRE_CLI_AND_DATA();
  // Enough epochs to be still training when the rank is stopped; a small net and test pass, so
  // rank 0's evaluation between epochs stays far below the timeout the other rank waits with.
  MpiJob job(2, cli_test::kDmPath,
             {"train", "--distributed", "--collective-timeout-ms", "4000", "--model", "mlp:784-32-10", "--limit",
              "2048", "--batch-size", "64", "--epochs", "200", "--threads", "1"});
  ASSERT_TRUE(job.started()) << job.start_error();
  std::vector<pid_t> ranks;
  ASSERT_TRUE(wait_until(
      [&] {
        ranks = job.rank_pids();
        return ranks.size() == 2 && job.output().find("epoch 1") != std::string::npos;
      },
      60s))
      << job.output();
  ASSERT_EQ(::kill(ranks[1], SIGSTOP), 0);
  const auto stopped_at = std::chrono::steady_clock::now();
  const int exit_code = job.wait(20s);
  const auto took = std::chrono::steady_clock::now() - stopped_at;
  const std::string log = job.output();
  ASSERT_NE(exit_code, -1) << "the job was still there 20 s after a rank stopped:\n" << log;
  EXPECT_NE(exit_code, 0) << log;
  // The timeout, and the time mpirun takes to end the job, with room for a loaded machine.
  EXPECT_LT(took, 12s) << log;
  EXPECT_NE(log.find("rank 1 has been silent"), std::string::npos) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(\[(all_reduce|broadcast|all_gather|barrier)\] .*timed out after 4000 ms)")))
      << log;
}

}  // namespace
