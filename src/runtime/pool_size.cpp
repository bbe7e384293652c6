#include "pool_size.hpp"

#include <sched.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "democratising/error.hpp"

namespace dm::detail {

int default_pool_size() {
  if (const char* s = std::getenv("DM_NUM_THREADS")) {
    const int n = std::atoi(s);
    if (n >= 1) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw >= 1 ? static_cast<int>(hw) : 1;
}

void check_pool_size(int n) {
  if (n < 1) throw ValueError("[set_num_threads] the pool needs at least 1 thread, got " + std::to_string(n));
}

}  // namespace dm::detail
