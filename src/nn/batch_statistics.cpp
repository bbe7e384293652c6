// The thread's batch statistics reducer (see democratising/nn/batch_statistics.hpp).
#include "democratising/nn/batch_statistics.hpp"

#include <utility>

namespace dm::nn {
namespace {

// Per thread: a training step's forward runs on its caller's thread, and another thread's
// batch norm (a trainer of its own) must not exchange with this one's participants.
thread_local std::shared_ptr<BatchStatisticsReducer> current;

}  // namespace

BatchStatisticsScope::BatchStatisticsScope(std::shared_ptr<BatchStatisticsReducer> reducer)
    : previous_(std::exchange(current, std::move(reducer))) {}

BatchStatisticsScope::~BatchStatisticsScope() { current = std::move(previous_); }

std::shared_ptr<BatchStatisticsReducer> batch_statistics_reducer() { return current; }

}  // namespace dm::nn
