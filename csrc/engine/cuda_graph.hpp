// Option cuda_graphs=on: the model's forward is captured once per batch shape as a CUDA
// graph and replayed, so a call launches one graph instead of one kernel per layer (the
// launch cost dominates small batches on a GPU). A decorator over any ModelBackend.
#pragma once

#include <memory>

#include "backend.hpp"

namespace hyb {

// Wraps `model` (already on its CUDA device): forward() copies the arguments into the
// graph's own input tensors, replays the graph and returns the graph's output tensors,
// valid until the next forward() (the engine copies them out before that). A new batch
// shape is warmed up on a side stream and captured the first time it is seen; with
// chunk=N every call has the same shape, so there is one graph. HYB_ERR_DEVICE when this
// build cannot capture graphs.
std::unique_ptr<ModelBackend> with_cuda_graphs(std::unique_ptr<ModelBackend> model);

}  // namespace hyb
