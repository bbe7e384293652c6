#!/usr/bin/env bash
# Builds and runs tests/install/consumer against democratising, as a downstream user would:
#   check_consumer.sh package SOURCE_DIR BUILD_DIR   (cmake --install, then find_package)
#   check_consumer.sh subdirectory SOURCE_DIR BUILD_DIR CUDA   (add_subdirectory, DM_CUDA=CUDA)
# The work tree sits at a fixed place inside BUILD_DIR, so ccache (with CCACHE_BASEDIR) finds the
# library's objects from one run to the next and from one clone to another.
set -euo pipefail
mode=$1 src=$2 build=$3 cuda=${4:-OFF}
work="$build/install-check/$mode"
rm -rf "$work"
mkdir -p "$work"
if [[ $mode == package ]]; then
  cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
  cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
else
  cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DDM_CONSUMER_MODE=subdirectory \
    -DDM_SOURCE_DIR="$src" -DDM_CUDA="$cuda" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
fi
cmake --build "$work/build" > "$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
"$work/build/consumer"
