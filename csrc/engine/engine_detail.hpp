// Shapes and padding shared by the engine's rank and node paths (engine.cpp, engine_node.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "manifest.hpp"

namespace hyb {

// [ncol, per-column shape...]: the host layout (the tensor's shape when unbatched).
std::vector<int64_t> host_shape(const TensorSpec &s, int64_t ncol);
// The model's shape for a batch: the per-column shape with the column axis at batch_axis.
std::vector<int64_t> model_shape(const TensorSpec &s, int64_t batch);
// Rows [first, first+n) of t, t itself when that is all of it (a narrow costs a dispatch).
torch::Tensor column_rows(const torch::Tensor &t, int64_t first, int64_t n);
// t.movedim(from, to), t itself when from == to.
torch::Tensor move_axis(const torch::Tensor &t, int64_t from, int64_t to);
// [n, ...] -> [batch, ...], the extra columns copies of the last real one: a padded chunk has
// the same shape as every other chunk, so its columns get the same bits.
torch::Tensor pad_columns(const torch::Tensor &t, int64_t batch);

}  // namespace hyb
