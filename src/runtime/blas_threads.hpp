#pragma once
namespace dm::detail {
/// Makes the BLAS we link run on the calling thread only: our pool parallelises around it,
/// and a BLAS with threads of its own inside our tasks would oversubscribe the cores.
void force_single_threaded_blas();
}  // namespace dm::detail
