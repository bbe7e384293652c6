// Loading NCCL with dlopen (see nccl_library.hpp).
#include "nccl_library.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "democratising/base/error.hpp"

namespace dm::dist::nccl {
namespace {

constexpr const char* kHint =
    "NCCL runs the collectives of CUDA tensors; install it, point LD_LIBRARY_PATH at a copy (PyTorch ships one "
    "under site-packages/nvidia/nccl/lib), or name the file in DM_NCCL_LIBRARY";

template <class Fn>
void resolve(void* handle, const std::string& path, const char* symbol, Fn& entry) {
  dlerror();  // clear a stale message so the one read below is this lookup's
  void* address = dlsym(handle, symbol);
  if (!address) {
    const char* why = dlerror();
    throw DeviceError("[nccl] " + path + " has no symbol " + symbol + (why ? std::string(" (") + why + ")" : "") +
                      ": it is not NCCL 2.14 or later. " + kHint);
  }
  entry = reinterpret_cast<Fn>(address);
}

}  // namespace

std::string default_library_path() {
  const char* chosen = std::getenv("DM_NCCL_LIBRARY");
  return chosen && *chosen ? chosen : "libnccl.so.2";
}

std::shared_ptr<const Library> load_library(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw DeviceError("[nccl] cannot load " + path + ": " + (why ? why : "unknown reason") + ". " + kHint);
  }
  auto library = std::make_shared<Library>();
  library->path = path;
  try {
    resolve(handle, path, "ncclGetVersion", library->get_version);
    resolve(handle, path, "ncclGetUniqueId", library->get_unique_id);
    resolve(handle, path, "ncclCommInitRankConfig", library->comm_init_rank_config);
    resolve(handle, path, "ncclAllReduce", library->all_reduce);
    resolve(handle, path, "ncclAllGather", library->all_gather);
    resolve(handle, path, "ncclBroadcast", library->broadcast);
    resolve(handle, path, "ncclCommGetAsyncError", library->comm_get_async_error);
    resolve(handle, path, "ncclCommAbort", library->comm_abort);
    resolve(handle, path, "ncclCommDestroy", library->comm_destroy);
    resolve(handle, path, "ncclGetErrorString", library->get_error_string);
  } catch (...) {
    dlclose(handle);  // not NCCL: nothing of it is in use yet
    throw;
  }
  return library;
}

std::shared_ptr<const Library> process_library() {
  static std::mutex mutex;
  static std::shared_ptr<const Library> loaded;
  std::lock_guard lock(mutex);
  // A failed load is tried again next time: the user may have fixed the path in between.
  if (!loaded) loaded = load_library(default_library_path());
  return loaded;
}

}  // namespace dm::dist::nccl
