#pragma once
namespace dm::detail {
/// DM_NUM_THREADS when set to a positive number, else the cores this process may use.
int default_pool_size();
/// Throws ValueError unless n >= 1.
void check_pool_size(int n);
}  // namespace dm::detail
