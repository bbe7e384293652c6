// All-reduce and data-parallel steps, side by side with raw MPI in the same run.
//
//   mpirun --oversubscribe -np 2 bench_allreduce [--quick] [--step-only] [--bucket-kb N] [--per-rank N]
//                                                [--model SPEC] [--route automatic|mpi|tcp_ring]
//
// Over simulated links: scripts/netsim --rate 1gbit -- bash -c 'mpirun $DM_NETSIM_MPIRUN -np 2 bench_allreduce --step-only'
//
// 1. World::all_reduce (with and without the ranks' agreement check) against a raw
//    MPI_Allreduce of the same buffer, for 1K, 1M and 16M floats: median time per call, ratio.
// 2. One DistributedTrainer step with bucketed all-reduces overlapping backward, against the same
//    step with all communication after backward, and against the compute alone plus the
//    communication alone (one all-reduce of the whole gradient). The network is a dm train
//    --model spec: mlp:784-1024-1024-10 unless --model says otherwise, e.g. cnn.
#if __has_include(<mpi.h>)
#include <mpi.h>
#else
#define OMPI_SKIP_MPICXX 1  // the C API only
#include <mpi/mpi.h>           // Debian keeps it in the multiarch include directory
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <democratising/distributed/distributed_trainer.hpp>
#include <democratising/distributed/world.hpp>
#include <democratising/nn/layers.hpp>
#include <democratising/nn/sequential.hpp>
#include <democratising/core/random.hpp>

#include "model_families.hpp"  // dm train's networks, by their --model spec

namespace {

using Clock = std::chrono::steady_clock;

// Median seconds of `reps` calls of fn, each started together on all ranks.
double median_seconds(int reps, const std::function<void()>& fn) {
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto start = Clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  // Every rank reports the slowest rank's time: a collective is done when all are done.
  MPI_Allreduce(MPI_IN_PLACE, times.data(), static_cast<int>(times.size()), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void print_time(const char* what, double seconds) {
  if (seconds < 1e-3) std::printf("%-34s %10.2f us\n", what, seconds * 1e6);
  else std::printf("%-34s %10.3f ms\n", what, seconds * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, step_only = false;
  std::int64_t bucket_kb = 1024, per_rank = 64;
  std::string model_spec = "mlp:784-1024-1024-10";
  dm::dist::AllReduceRoute route = dm::dist::AllReduceRoute::automatic;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--step-only") == 0) step_only = true;
    else if (std::strcmp(argv[i], "--bucket-kb") == 0 && i + 1 < argc) bucket_kb = std::atoll(argv[++i]);
    else if (std::strcmp(argv[i], "--per-rank") == 0 && i + 1 < argc) per_rank = std::atoll(argv[++i]);
    else if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_spec = argv[++i];
    else if (std::strcmp(argv[i], "--route") == 0 && i + 1 < argc) {
      const std::string name = argv[++i];
      route = name == "tcp_ring" ? dm::dist::AllReduceRoute::tcp_ring
              : name == "mpi"    ? dm::dist::AllReduceRoute::mpi
                                 : dm::dist::AllReduceRoute::automatic;
    }
    else {
      std::fprintf(stderr, "bench_allreduce: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  dm::dist::World world = dm::dist::World::mpi();
  dm::dist::WorldOptions unchecked_options;
  unchecked_options.check_agreement = false;
  unchecked_options.all_reduce_route = route;
  dm::dist::World unchecked = dm::dist::World::mpi(unchecked_options);
  const bool leader = world.rank() == 0;
  if (leader)
    std::printf("ranks: %d, all-reduces by %s (asked: %s)\n\n", world.size(), unchecked.all_reduce_route(),
                dm::dist::all_reduce_route_name(route));

  for (std::int64_t n : {std::int64_t{1} << 10, std::int64_t{1} << 20, std::int64_t{1} << 24}) {
    if (step_only) break;
    const int reps = quick ? 5 : (n <= (1 << 10) ? 2000 : n <= (1 << 20) ? 100 : 15);
    dm::Tensor t = dm::Tensor::ones(dm::Shape{n});
    float* data = t.data<float>();
    // Warm up both paths (first-touch, MPI's buffers).
    MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    world.all_reduce(t);
    const double raw = median_seconds(reps, [&] {
      MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    });
    const double ours = median_seconds(reps, [&] { unchecked.all_reduce(t); });
    const double checked = median_seconds(reps, [&] { world.all_reduce(t); });
    if (leader) {
      std::printf("all_reduce of %lld floats\n", static_cast<long long>(n));
      print_time("  raw MPI_Allreduce", raw);
      print_time("  World::all_reduce", ours);
      print_time("  World::all_reduce, checked", checked);
      std::printf("  ratio %.2fx (checked %.2fx)\n\n", ours / raw, checked / raw);
    }
  }

  // Data-parallel step: the --model network, `per_rank` samples per rank.
  auto make_model = [&] {
    dm::manual_seed(3);
    return dm::cli::network_from_spec(model_spec).build();
  };
  dm::manual_seed(10 + static_cast<std::uint64_t>(world.rank()));
  const dm::Tensor x = dm::Tensor::randn(dm::Shape{per_rank, 784});
  const dm::Tensor y = dm::Tensor::randint(0, 10, dm::Shape{per_rank});
  const int reps = quick ? 3 : 41;
  dm::Model overlapped_model = make_model();
  dm::Model sequential_model = make_model();
  dm::Model compute_model = make_model();
  dm::dist::DistributedTrainer overlapped(overlapped_model, unchecked, {.bucket_bytes = bucket_kb << 10, .overlap = true});
  dm::dist::DistributedTrainer sequential(sequential_model, unchecked, {.bucket_bytes = bucket_kb << 10, .overlap = false});
  overlapped.train_step(x, y);
  sequential.train_step(x, y);
  compute_model.train_step(x, y);
  dm::Gradients grads = compute_model.compute_gradients(x, y);
  // The four in turn, round after round, so a change in the shared machine's load touches all
  // of them alike; the median of each.
  std::vector<double> overlapped_times, sequential_times, compute_times, comm_times;
  // Where the overlapped and sequential steps spend their time: forward+backward (the
  // overlapped one with communication running beside it) and the wait after backward.
  std::vector<double> overlapped_fb, overlapped_wait, sequential_fb, sequential_wait;
  for (int r = 0; r < reps; ++r) {
    overlapped_times.push_back(median_seconds(1, [&] { overlapped.train_step(x, y); }));
    overlapped_fb.push_back(overlapped.last_step().forward_backward);
    overlapped_wait.push_back(overlapped.last_step().communication_wait);
    sequential_times.push_back(median_seconds(1, [&] { sequential.train_step(x, y); }));
    sequential_fb.push_back(sequential.last_step().forward_backward);
    sequential_wait.push_back(sequential.last_step().communication_wait);
    compute_times.push_back(median_seconds(1, [&] { compute_model.train_step(x, y); }));
    comm_times.push_back(median_seconds(1, [&] { unchecked.all_reduce(grads.flat, dm::dist::Reduction::Sum); }));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double t_overlapped = median(overlapped_times), t_sequential = median(sequential_times);
  const double t_compute = median(compute_times), t_comm = median(comm_times);
  if (leader) {
    std::printf("data-parallel step, %s (%lld parameters), %lld samples per rank, %d buckets of ~%lld KiB\n",
                model_spec.c_str(), static_cast<long long>(grads.flat.numel()), static_cast<long long>(per_rank),
                overlapped.bucket_count(), static_cast<long long>(bucket_kb));
    print_time("  overlapped (buckets in backward)", t_overlapped);
    std::printf("    forward+backward %.3f ms, then waiting %.3f ms\n", median(overlapped_fb) * 1e3,
                median(overlapped_wait) * 1e3);
    print_time("  sequential (all-reduce after)", t_sequential);
    std::printf("    forward+backward %.3f ms, then waiting %.3f ms\n", median(sequential_fb) * 1e3,
                median(sequential_wait) * 1e3);
    print_time("  compute alone (one rank's step)", t_compute);
    print_time("  communication alone", t_comm);
    print_time("  compute + communication", t_compute + t_comm);
    std::printf("  overlapped / (compute + communication) = %.2f\n", t_overlapped / (t_compute + t_comm));
    std::printf("  overlapped / max(compute, communication) = %.2f\n", t_overlapped / std::max(t_compute, t_comm));
    std::printf("  overlapped / sequential = %.2f\n", t_overlapped / t_sequential);
  }
  return 0;
}
