#!/usr/bin/env bash
# Builds and runs tests/install/consumer against democratising, as a downstream user would:
#   check_consumer.sh package SOURCE_DIR BUILD_DIR   (cmake --install, then find_package)
#   check_consumer.sh subdirectory SOURCE_DIR        (add_subdirectory)
set -euo pipefail
mode=$1 src=$2 build=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ $mode == package ]]; then
  cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
  cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
else
  cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DDM_CONSUMER_MODE=subdirectory \
    -DDM_SOURCE_DIR="$src" -DDM_CUDA=OFF -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
fi
cmake --build "$work/build" > "$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
"$work/build/consumer"
