#include "pool_size.hpp"

#include <sched.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "democratising/base/error.hpp"

namespace dm::detail {

namespace {

int positive_env(const char* name) {
  const char* s = std::getenv(name);
  const int n = s ? std::atoi(s) : 0;
  return n >= 1 ? n : 0;
}

}  // namespace

int pool_size_for(int usable, int online, int local_ranks) {
  if (usable < 1) usable = 1;
  if (local_ranks <= 1 || usable < online) return usable;
  return usable / local_ranks >= 1 ? usable / local_ranks : 1;
}

int default_pool_size() {
  if (const int n = positive_env("DM_NUM_THREADS")) return n;
  const unsigned hw = std::thread::hardware_concurrency();
  const int online = hw >= 1 ? static_cast<int>(hw) : 1;
  int usable = online;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) >= 1) usable = CPU_COUNT(&set);
  int local_ranks = positive_env("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (local_ranks == 0) local_ranks = positive_env("MPI_LOCALNRANKS");
  return pool_size_for(usable, online, local_ranks);
}

void check_pool_size(int n) {
  if (n < 1) throw ValueError("[set_num_threads] the pool needs at least 1 thread, got " + std::to_string(n));
}

}  // namespace dm::detail
