// Option seed=N: a model that draws random numbers in its forward (torch.randn, dropout kept
// on, a stochastic parameterization) gives the same draws for the same call. libtorch's
// TorchScript draws from the process's default generator, so for the length of the forward
// the default generator of the model's device is set to a state derived from (seed, step)
// and restored afterwards; seeded forwards of all models take one process-wide lock.
//
// step is the host's step counter when it passes one (option step=K, e.g. the model's time
// step, which a restart restores), else the number of runs of this handle since load.
// REP and ERS then hold bit for bit; PEM and NODE do not in general, because a column's
// draws depend on where it sits in the batch (docs/options.md, "Stochastic models").
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include <torch/torch.h>

namespace hyb {

// While alive: the default generator of `device` is seeded from (seed, step, chunk), other
// seeded forwards wait; on destruction its previous state is back.
class SeededDraws {
 public:
  SeededDraws(const torch::Device &device, uint64_t seed, int64_t step, int64_t chunk_index);
  ~SeededDraws();
  SeededDraws(const SeededDraws &) = delete;
  SeededDraws &operator=(const SeededDraws &) = delete;

 private:
  std::unique_lock<std::mutex> lock_;
  at::Generator generator_;
  torch::Tensor saved_state_;
};

// The 64-bit seed for one forward: a splitmix64 mix of the three numbers.
uint64_t draw_seed(uint64_t seed, int64_t step, int64_t chunk_index);

}  // namespace hyb
