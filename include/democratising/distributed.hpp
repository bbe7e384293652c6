#pragma once
// democratising's distributed part (CMake target democratising::distributed, which brings MPI,
// OpenSSL and the async part): collectives on a World (MPI, NCCL, in-process), the
// all-reduce trainer, and the parameter server with its workers.
//
//   #include <democratising/distributed.hpp>
//
//   dm::dist::World world = dm::dist::World::mpi();   // under mpirun -np N
//   world.all_reduce(grads, dm::dist::Reduction::Mean);
#include "democratising/async.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/distributed/parameter_server.hpp"
#include "democratising/distributed/wire_protection.hpp"
#include "democratising/distributed/worker.hpp"
#include "democratising/distributed/world.hpp"
