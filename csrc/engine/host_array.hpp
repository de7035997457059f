// The host's arrays as the engine sees them: checks against a tensor's spec, views of their
// columns, and the scan for NaN/Inf (and for values a float32 model cannot hold).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "manifest.hpp"

namespace hyb {

// A host buffer, row-major. Batched tensors: shape = [ncol, per-column shape...], column axis
// first; unbatched (batch_axis -1): shape = the tensor's shape. on_device: the memory is on
// the model's CUDA device (hyb_model_bind_device), not the host.
struct HostArray {
  void *data = nullptr;
  Dtype dtype = Dtype::Float64;
  std::vector<int64_t> shape;
  bool on_device = false;
};

torch::ScalarType scalar_type(Dtype d);

// "input 'x'", for messages.
std::string describe(Role role, const std::string &name);

// Checks an array against the spec it is bound to: data pointer, shape (ncol >= 1 and the
// per-column shape; the whole shape when unbatched), byte size within int64, and a dtype of
// the same kind (floats for a float tensor, integers for an integer one). HYB_ERR_ARGUMENT,
// HYB_ERR_SHAPE or HYB_ERR_DTYPE naming the tensor.
void check_host_array(const TensorSpec &spec, Role role, const HostArray &array);

// Columns of a batched array (rows [first, first+n)); the whole array when unbatched. A view
// of the host memory, no copy; `device` is where an on_device array lives.
torch::Tensor host_view(const HostArray &array, const TensorSpec &spec, int64_t first, int64_t n,
                        const torch::Device &device);
torch::Tensor whole(const HostArray &array, const torch::Device &device);
// whole(array, device), reusing `view` when it already is that (a host calls with the same
// arrays step after step, and a fresh view costs a few thousand instructions); `view` is
// replaced otherwise.
const torch::Tensor &whole_reused(torch::Tensor &view, const HostArray &array, const torch::Device &device);

// Non-finite values the model would receive from a float array: NaN, Inf, and, when the model
// is float32 and the host float64, finite values beyond float32's range (they become Inf in
// the cast). count and the first bad element's flat index (-1 when none).
struct NonfiniteScan {
  int64_t count = 0;
  int64_t first = -1;
  double first_value = 0;
};
NonfiniteScan scan_nonfinite(const HostArray &array, Dtype model_dtype, const torch::Device &device);

// "NaN at column 3, feature 65 (state_q0001 index 5)", for a scan of a spec's array.
std::string describe_nonfinite(const TensorSpec &spec, const NonfiniteScan &scan, Dtype host_dtype);

}  // namespace hyb
