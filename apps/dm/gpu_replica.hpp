#pragma once
// `dm train --distributed --device cuda`: the model trains on a copy of its parameters on the
// rank's GPU, while evaluation and checkpoints read the model's own host parameters, brought up
// to date first.
#include "democratising/model/model.hpp"

namespace dm::cli {

class GpuReplica {
 public:
  /// Copies `model`'s parameters to `device` and makes the module and optimizer use the copies;
  /// on the CPU it does nothing. `model` must outlive this object.
  GpuReplica(Model& model, Device device);
  /// Puts the trained values and the host parameters back into the model.
  ~GpuReplica();
  GpuReplica(const GpuReplica&) = delete;
  GpuReplica& operator=(const GpuReplica&) = delete;

  /// Runs fn() with the model on its host parameters, holding the trained values.
  template <class Fn>
  auto on_host(Fn&& fn) {
    swap_in(true);
    struct Back {
      GpuReplica* replica;
      ~Back() { replica->swap_in(false); }
    } back{this};
    return fn();
  }

 private:
  void swap_in(bool host);

  Model& model_;
  nn::NamedTensors home_;
  nn::NamedTensors placed_;
};

}  // namespace dm::cli
