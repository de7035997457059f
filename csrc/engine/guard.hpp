// Option guard=fallback|clip: a run's inputs and outputs against what training saw (the
// manifest's per-value training min and max, widened by guard_margin times their range).
// fallback: the host learns, per column, the first input and the first output value out of
// bounds, and runs its own physics there. clip: inputs are clipped to the bounds before the
// forward and outputs after it, and the same per-column report says where. Column by column,
// so the result of a column does not depend on the decomposition.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "manifest.hpp"
#include "options.hpp"

namespace hyb {

class Guard {
 public:
  // HYB_ERR_MANIFEST naming the tensor when a float input or output has no training statistics.
  Guard(const Manifest &manifest, const Options &options);

  bool clips() const { return clip_; }
  // Input `index` in host layout ([ncol, ...], or whole when unbatched), clipped to its bounds
  // (a new tensor of the same dtype).
  torch::Tensor clip_input(size_t index, const torch::Tensor &host) const;
  // After a run over ncol columns: the report below from the host's inputs and outputs (any
  // dtype, host layout); with clip, the outputs are then clipped in place.
  void check_and_clip_outputs(const std::vector<torch::Tensor> &inputs,
                              const std::vector<torch::Tensor> &outputs, int64_t ncol);
  // Per column of the last run: the first value out of bounds, as a flat index over the
  // role's tensors (manifest order, per-column values in row-major order), -1 when none.
  const std::vector<int64_t> &first_input() const { return first_input_; }
  const std::vector<int64_t> &first_output() const { return first_output_; }
  int64_t last_ncol() const { return static_cast<int64_t>(first_input_.size()); }

 private:
  struct Bounds {
    torch::Tensor lo, hi;  // per-column shape, float64; undefined for integer tensors
    int64_t offset = 0;    // of the tensor's values in the role's concatenation
    bool batched = true;
    // The model's dtype: values are compared as the model sees them, so a float64 host value
    // that rounds to a float32 training value (a constant feature: min == max) is in range.
    torch::ScalarType model_type = torch::kDouble;
  };
  static std::vector<Bounds> bounds_of(const std::vector<TensorSpec> &specs, Role role, double margin);
  static void first_out_of_bounds(const std::vector<Bounds> &bounds, const std::vector<torch::Tensor> &arrays,
                                  int64_t ncol, std::vector<int64_t> &first);

  bool clip_ = false;
  std::vector<Bounds> inputs_, outputs_;
  std::vector<int64_t> first_input_, first_output_;
};

}  // namespace hyb
