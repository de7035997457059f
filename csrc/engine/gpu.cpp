#include "gpu.hpp"

#include <cstdlib>

#include <ATen/Context.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

namespace hyb {

ModelStream::ModelStream(const torch::Device &device) {
  if (!device.is_cuda()) return;
  stream_ = c10::impl::getDeviceGuardImpl(device.type())->getStreamFromGlobalPool(device);
}

std::optional<c10::StreamGuard> ModelStream::guard() const {
  if (!stream_) return std::nullopt;
  return std::optional<c10::StreamGuard>(std::in_place, *stream_);
}

void ModelStream::synchronize() const {
  if (stream_) stream_->synchronize();
}

torch::Tensor upload_pinned(const torch::Tensor &host, torch::ScalarType dtype, const torch::Device &device) {
  torch::Tensor pinned = torch::empty(host.sizes(), torch::TensorOptions().dtype(dtype).pinned_memory(true));
  pinned.copy_(host);  // the cast to the model dtype happens here, on the host, as on the CPU path
  return pinned.to(device, /*non_blocking=*/true);
}

torch::Tensor download_pinned(const torch::Tensor &on_device) {
  torch::Tensor pinned = torch::empty(
      on_device.sizes(), torch::TensorOptions().dtype(on_device.scalar_type()).pinned_memory(true));
  pinned.copy_(on_device, /*non_blocking=*/true);
  return pinned;
}

torch::Tensor host_buffer(const std::vector<int64_t> &shape, torch::ScalarType dtype,
                          const torch::Device &model_device) {
  return torch::empty(shape, torch::TensorOptions().dtype(dtype).pinned_memory(model_device.is_cuda()));
}

void set_deterministic_cuda() {
  // cuBLAS is deterministic only with a fixed workspace; it reads this before its first use.
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::Context &ctx = at::globalContext();
  ctx.setAllowTF32CuBLAS(false);
  ctx.setAllowTF32CuDNN(false);
  ctx.setBenchmarkCuDNN(false);
  ctx.setDeterministicCuDNN(true);
  ctx.setDeterministicAlgorithms(true, /*warn_only=*/false);
}

}  // namespace hyb
