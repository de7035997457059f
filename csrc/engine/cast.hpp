// Copies between whole, contiguous CPU float tensors as plain loops: libtorch's copy_ builds
// a TensorIterator and dispatches on every call (some 4,000 instructions, more than the
// copy of a few columns itself), and the loops vectorize. The casts round as libtorch's do
// (static_cast, round to nearest), so results stay bit-identical.
#pragma once

#include <torch/torch.h>

namespace hyb {

// dst = src, cast to dst's dtype, when both are contiguous CPU tensors of the same number of
// elements and of dtype float32 or float64; false (nothing copied) otherwise, for the caller
// to use copy_.
bool copy_floats(const torch::Tensor &src, const torch::Tensor &dst);

}  // namespace hyb
