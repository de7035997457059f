// The CUDA path of the engine, written against libtorch's device-generic API (c10::Stream,
// c10::StreamGuard, pinned tensors), so it compiles with the CPU-only libtorch (whose
// c10/cuda headers need the CUDA toolkit) and runs when the libtorch in use has CUDA.
#pragma once

#include <optional>

#include <c10/core/Stream.h>
#include <torch/torch.h>

namespace hyb {

// One CUDA stream per model, from libtorch's stream pool; made current while the model
// runs, so two models on one GPU (or a host's own kernels) do not wait on each other.
class ModelStream {
 public:
  // No stream for a CPU device: guard() and synchronize() then do nothing.
  explicit ModelStream(const torch::Device &device);
  // Makes the model's stream current on its device until the returned guard goes away.
  std::optional<c10::StreamGuard> guard() const;
  // Waits until the work queued on the model's stream is done (host buffers readable).
  void synchronize() const;

 private:
  std::optional<c10::Stream> stream_;
};

// Host tensor -> a tensor of `dtype` on a CUDA device, through a pinned (page-locked) host
// buffer so the copy is a DMA queued on the current stream, not a synchronous memcpy.
torch::Tensor upload_pinned(const torch::Tensor &host, torch::ScalarType dtype, const torch::Device &device);

// Device tensor -> a pinned host tensor, queued on the current stream: synchronize the
// model's stream before reading it.
torch::Tensor download_pinned(const torch::Tensor &on_device);

// An empty host tensor, pinned when the model runs on CUDA (node batching's gather buffers).
torch::Tensor host_buffer(const std::vector<int64_t> &shape, torch::ScalarType dtype,
                          const torch::Device &model_device);

// Reproducible mode on CUDA: no TF32 in cuBLAS or cuDNN, no cuDNN autotuning, only
// deterministic algorithms (cuBLAS then needs CUBLAS_WORKSPACE_CONFIG, set here when the
// host has not set it). Process-wide settings of libtorch, as the hardware allows no less.
void set_deterministic_cuda();

}  // namespace hyb
