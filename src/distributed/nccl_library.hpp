#pragma once
// NCCL, loaded at run time: neither the build nor a CPU-only user needs it, and a program finds
// whichever libnccl.so.2 the system offers (a PyTorch install ships one). Only the symbols the
// NCCL transport calls are resolved.
#include <cstddef>
#include <memory>
#include <string>

#include "nccl_api.hpp"

namespace dm::dist::nccl {

/// NCCL's entry points, resolved from one loaded library.
struct Library {
  std::string path;  // what was given to dlopen
  Result (*get_version)(int* version) = nullptr;
  Result (*get_unique_id)(UniqueId* id) = nullptr;
  Result (*comm_init_rank_config)(Comm* comm, int ranks, UniqueId id, int rank, void* config) = nullptr;
  Result (*all_reduce)(const void* send, void* recv, std::size_t count, DataType type, RedOp op, Comm comm,
                       Stream stream) = nullptr;
  Result (*all_gather)(const void* send, void* recv, std::size_t count, DataType type, Comm comm,
                       Stream stream) = nullptr;
  Result (*broadcast)(const void* send, void* recv, std::size_t count, DataType type, int root, Comm comm,
                      Stream stream) = nullptr;
  Result (*comm_get_async_error)(Comm comm, Result* state) = nullptr;
  Result (*comm_abort)(Comm comm) = nullptr;
  Result (*comm_destroy)(Comm comm) = nullptr;
  const char* (*get_error_string)(Result result) = nullptr;
};

/// "libnccl.so.2", or the path in the environment variable DM_NCCL_LIBRARY when it is set.
std::string default_library_path();

/// Loads `path` with dlopen (so the usual search: LD_LIBRARY_PATH, the loader cache) and resolves
/// every entry. A library that cannot be loaded, or lacks an entry, is a DeviceError naming it.
/// The library stays loaded for the life of the process: NCCL's own threads may outlive a
/// communicator.
std::shared_ptr<const Library> load_library(const std::string& path);

/// The process's NCCL, loaded once from default_library_path() on first use.
std::shared_ptr<const Library> process_library();

}  // namespace dm::dist::nccl
