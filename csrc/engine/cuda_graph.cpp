#include "cuda_graph.hpp"

#include "error.hpp"

#if defined(HYBRIDGE_WITH_CUDA)
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace hyb {

#if defined(HYBRIDGE_WITH_CUDA)

namespace {

// A CUDA stream of its own for warm-up and capture: work another model or thread queues
// on a shared pool stream during the capture would land in this graph.
class OwnStream {
 public:
  explicit OwnStream(c10::DeviceIndex device) : device_(device) {
    const c10::cuda::CUDAGuard on_device(device);
    C10_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~OwnStream() {
    const c10::cuda::CUDAGuard on_device(device_);
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
  OwnStream(const OwnStream &) = delete;
  OwnStream &operator=(const OwnStream &) = delete;
  c10::cuda::CUDAStream get() const { return c10::cuda::getStreamFromExternal(stream_, device_); }

 private:
  c10::DeviceIndex device_;
  cudaStream_t stream_ = nullptr;
};

class GraphedBackend : public ModelBackend {
 public:
  explicit GraphedBackend(std::unique_ptr<ModelBackend> model) : model_(std::move(model)) {}

  std::string kind() const override { return model_->kind() + " (CUDA graphs)"; }
  const std::string &manifest_text() const override { return model_->manifest_text(); }
  std::vector<std::string> argument_names() const override { return model_->argument_names(); }
  void to(const torch::Device &device) override {
    graphs_.clear();  // captured for the old device
    side_.reset();
    model_->to(device);
  }

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args) override {
    for (const auto &a : args)
      if (!a.is_cuda())
        throw Error(HYB_ERR_DEVICE,
                    "cuda_graphs: an argument is on " + a.device().str() + ", not on the GPU");
    Shapes key;
    for (const auto &a : args) key.emplace_back(a.sizes().vec(), a.scalar_type());
    auto it = graphs_.find(key);
    if (it == graphs_.end()) it = graphs_.emplace(key, capture(args)).first;
    Captured &g = *it->second;
    for (size_t i = 0; i < args.size(); ++i) g.inputs[i].copy_(args[i], /*non_blocking=*/true);
    g.graph.replay();  // on the current stream: the model's own
    return g.outputs;
  }

 private:
  using Shapes = std::vector<std::pair<std::vector<int64_t>, c10::ScalarType>>;
  struct Captured {
    at::cuda::CUDAGraph graph;
    std::vector<torch::Tensor> inputs, outputs;  // the graph's own memory
  };

  std::unique_ptr<Captured> capture(const std::vector<torch::Tensor> &args) {
    const c10::DeviceIndex device = args.front().device().index();
    const c10::cuda::CUDAGuard on_device(device);
    if (!side_) side_ = std::make_unique<OwnStream>(device);
    const c10::cuda::CUDAStream side = side_->get();
    auto g = std::make_unique<Captured>();
    for (const auto &a : args) g->inputs.push_back(a.clone());
    c10::cuda::getCurrentCUDAStream().synchronize();  // the clones are complete
    // TorchScript optimizes its graph and libraries allocate workspaces during the first
    // calls; none of that may happen inside the capture, so warm up first.
    const at::cuda::MempoolId_t pool = at::cuda::graph_pool_handle();
    bool capturing = false;
    try {
      const c10::cuda::CUDAStreamGuard on_side(side);
      for (int i = 0; i < 3; ++i) model_->forward(g->inputs);
      side.synchronize();
      // Thread-local mode: the host's own CUDA work on other threads (OpenACC physics
      // overlapping a run_start) neither breaks this capture nor is broken by it.
      g->graph.capture_begin(pool, cudaStreamCaptureModeThreadLocal);
      capturing = true;
      g->outputs = model_->forward(g->inputs);
      capturing = false;
      g->graph.capture_end();
    } catch (const std::exception &e) {
      if (capturing) abandon_capture(side, device, pool);
      throw Error(HYB_ERR_RUNTIME, std::string("cuda_graphs: capturing the model's forward failed (a model "
                                               "that synchronizes with the host cannot be captured; set "
                                               "cuda_graphs=off): ") +
                                       e.what());
    }
    side.synchronize();
    return g;
  }

  // Ends a capture that failed half-way, so the stream and the allocator work again.
  static void abandon_capture(const c10::cuda::CUDAStream &side, c10::DeviceIndex device,
                              const at::cuda::MempoolId_t &pool) {
    cudaGraph_t partial = nullptr;
    cudaStreamEndCapture(side.stream(), &partial);  // fails for an invalidated capture: ignored
    if (partial) cudaGraphDestroy(partial);
    cudaGetLastError();  // clear the error the failed capture left behind
    c10::cuda::CUDACachingAllocator::endAllocateToPool(device, pool);
    c10::cuda::CUDACachingAllocator::releasePool(device, pool);
  }

  std::unique_ptr<ModelBackend> model_;
  std::unique_ptr<OwnStream> side_;
  std::map<Shapes, std::unique_ptr<Captured>> graphs_;  // declared last: freed before the stream
};

}  // namespace

std::unique_ptr<ModelBackend> with_cuda_graphs(std::unique_ptr<ModelBackend> model) {
  return std::make_unique<GraphedBackend>(std::move(model));
}

#else

std::unique_ptr<ModelBackend> with_cuda_graphs(std::unique_ptr<ModelBackend>) {
  throw Error(HYB_ERR_DEVICE, "cuda_graphs=on: this hybridge was built against a libtorch without CUDA");
}

#endif

}  // namespace hyb
