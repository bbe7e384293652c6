# Every dependency is a Debian package installed by scripts/setup; nothing is downloaded.
find_package(Threads REQUIRED)
find_package(TBB REQUIRED COMPONENTS tbb)

# OpenBLAS serves as the per-tile GEMM engine; we always call it single-threaded.
find_path(DM_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-pthread openblas REQUIRED)
find_library(DM_OPENBLAS_LIBRARY NAMES openblas REQUIRED)
if(NOT TARGET democratising_openblas)
  add_library(democratising_openblas INTERFACE IMPORTED GLOBAL)
  set_target_properties(democratising_openblas PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${DM_CBLAS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${DM_OPENBLAS_LIBRARY}")
endif()

# CUDA: AUTO builds the backend when the toolkit is there; without it, the core says CUDA was not built
# (src/backend/cuda/cuda_registry.cpp).
set(DM_WITH_CUDA OFF)
if(NOT DM_CUDA STREQUAL "OFF")
  if(NOT DEFINED CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
    set(CUDAToolkit_ROOT /usr/local/cuda)
  endif()
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    set(DM_WITH_CUDA ON)
  elseif(DM_CUDA STREQUAL "ON")
    message(FATAL_ERROR "DM_CUDA=ON but the CUDA toolkit was not found (set CUDAToolkit_ROOT)")
  endif()
endif()
message(STATUS "democratising: CUDA backend ${DM_WITH_CUDA}")

find_package(nlohmann_json 3 REQUIRED)  # safetensors headers, metrics, fixtures
find_package(ZLIB REQUIRED)             # gzip-compressed IDX files
# Asio (standalone, header-only) is the async runtime: the async part's headers use asio::awaitable.
find_path(DM_ASIO_INCLUDE_DIR asio.hpp REQUIRED)
if(NOT TARGET democratising_asio)
  add_library(democratising_asio INTERFACE IMPORTED GLOBAL)
  set_target_properties(democratising_asio PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${DM_ASIO_INCLUDE_DIR}")
endif()
find_package(OpenSSL REQUIRED)              # HMAC-SHA256 peer authentication
set(MPI_CXX_SKIP_MPICXX ON)  # the C API from C++; the deprecated C++ bindings stay out
find_package(MPI REQUIRED COMPONENTS CXX)   # collectives between processes (mpirun)
