#pragma once
// democratising's async part (CMake target democratising::async, which brings Asio):
// C++20 coroutines on Asio, on top of everything democratising/democratising.hpp gives.
//
//   #include <democratising/async.hpp>
//
//   dm::Task<float> total(dm::data::DataLoader loader) {
//     dm::data::AsyncDataLoader batches(loader, {.prefetch = 4});
//     float sum = 0;
//     while (auto batch = co_await batches.next()) sum += batch->x.sum().item<float>();
//     co_return sum;
//   }
//   float s = dm::block_on(total(loader));
#include "democratising/async/queue.hpp"
#include "democratising/async/task.hpp"
#include "democratising/async/dataloader.hpp"
#include "democratising/democratising.hpp"
