#pragma once
namespace dm::detail {
/// DM_NUM_THREADS when set to a positive number, else pool_size_for() of this process's cores
/// and the ranks mpirun started on this machine (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS).
int default_pool_size();
/// The pool for a process that may use `usable` cores of the machine's `online`, one of
/// `local_ranks` processes started together on it: its equal part of the cores when they all
/// share every core (so N ranks never run N pools of every core), else all it may use (a
/// launcher that bound each rank to its own cores has already split them).
int pool_size_for(int usable, int online, int local_ranks);
/// Throws ValueError unless n >= 1.
void check_pool_size(int n);
}  // namespace dm::detail
