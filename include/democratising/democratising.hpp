#pragma once
// democratising: a C++20 deep-learning library built for concurrency.
//
//   #include <democratising/democratising.hpp>
//
//   dm::manual_seed(0);
//   auto a = dm::Tensor::randn({256, 784});
//   auto w = dm::Tensor::randn({784, 128});
//   auto h = a.matmul(w).relu();              // parallel on the one process-wide pool
//   auto [s, m] = dm::join([&] { return h.sum(); }, [&] { return h.mean(); });
//   std::cout << s << m;
//
// Tensors are cheap handles that any thread may copy and read; results do not depend on the
// number of threads (dm::set_num_threads or DM_NUM_THREADS).
//
// This header is the core part (CMake target democratising::core: tensors, autograd, nn,
// optim, io, model, data) and needs neither Asio nor MPI. The other parts have their own:
//   democratising/async.hpp        Task, block_on, AsyncQueue, AsyncDataLoader (democratising::async)
//   democratising/distributed.hpp  World, DDP trainer, ParameterServer, Worker (democratising::distributed)
#include "democratising/autograd/autograd.hpp"
#include "democratising/data/batch.hpp"
#include "democratising/data/dataloader.hpp"
#include "democratising/data/dataset.hpp"
#include "democratising/data/fashion_mnist.hpp"
#include "democratising/data/par_chunks.hpp"
#include "democratising/model/data_parallel.hpp"
#include "democratising/base/device.hpp"
#include "democratising/base/dtype.hpp"
#include "democratising/base/error.hpp"
#include "democratising/ops/finite.hpp"
#include "democratising/io/idx.hpp"
#include "democratising/io/safetensors.hpp"
#include "democratising/backend/memory.hpp"
#include "democratising/model/model.hpp"
#include "democratising/model/model_parallel.hpp"
#include "democratising/nn/attention.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/module.hpp"
#include "democratising/nn/residual.hpp"
#include "democratising/nn/normalization.hpp"
#include "democratising/nn/patchify.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/nn/tokens.hpp"
#include "democratising/nn/transformer.hpp"
#include "democratising/nn/unflatten.hpp"
#include "democratising/optim/clip_grad_norm.hpp"
#include "democratising/optim/optimizer.hpp"
#include "democratising/optim/schedule.hpp"
#include "democratising/model/parameters.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "democratising/base/shape.hpp"
#include "democratising/runtime/sync.hpp"
#include "democratising/core/tensor.hpp"
