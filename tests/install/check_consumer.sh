#!/usr/bin/env bash
# Builds and runs tests/install/consumer against democratising, as a downstream user would:
#   check_consumer.sh package SOURCE_DIR BUILD_DIR   (cmake --install, then find_package)
#   check_consumer.sh subdirectory SOURCE_DIR BUILD_DIR CUDA   (add_subdirectory, DM_CUDA=CUDA)
#   check_consumer.sh core SOURCE_DIR BUILD_DIR   (cmake --install, then tests/install/consumer_core,
#       which asks for democratising::core only, configured where MPI, OpenSSL and CUDA cannot
#       be found: find_package of each is disabled and PATH holds none of mpicc, mpicxx, nvcc)
# The work tree sits at a fixed place inside BUILD_DIR, so ccache (with CCACHE_BASEDIR) finds the
# library's objects from one run to the next and from one clone to another.
set -euo pipefail
mode=$1 src=$2 build=$3 cuda=${4:-OFF}
work="$build/install-check/$mode"
rm -rf "$work"
mkdir -p "$work"
if [[ $mode == core ]]; then
  cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
  # A PATH with only the tools a C++ build needs: no MPI wrappers, no nvcc.
  mkdir -p "$work/bin"
  for tool in cmake ninja c++ g++ gcc cc as ld ar ranlib ccache; do
    if path=$(command -v "$tool"); then ln -s "$path" "$work/bin/$tool"; fi
  done
  for tool in mpicc mpicxx mpirun nvcc; do
    if [[ -e $work/bin/$tool ]]; then echo "PATH still offers $tool"; exit 1; fi
  done
  PATH="$work/bin" cmake -S "$src/tests/install/consumer_core" -B "$work/build" -G Ninja \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON -DCUDAToolkit_ROOT="$work/no-cuda" \
    > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
  PATH="$work/bin" cmake --build "$work/build" > "$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
  # The link line names none of the other parts' libraries.
  if grep -nE 'libmpi|libcudart|libcrypto|libssl|democratising_(async|distributed|cuda)' "$work/build/build.ninja"; then
    echo "the core consumer links more than the core part"; exit 1
  fi
  "$work/build/consumer_core"
  exit 0
elif [[ $mode == package ]]; then
  cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
  cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
else
  cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DDM_CONSUMER_MODE=subdirectory \
    -DDM_SOURCE_DIR="$src" -DDM_CUDA="$cuda" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
fi
cmake --build "$work/build" > "$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
"$work/build/consumer"
