#include "blas_threads.hpp"

extern "C" void openblas_set_num_threads(int);

namespace dm::detail {
void force_single_threaded_blas() { openblas_set_num_threads(1); }
}  // namespace dm::detail
