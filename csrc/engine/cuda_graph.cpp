#include "cuda_graph.hpp"

#include "error.hpp"

#if defined(HYBRIDGE_WITH_CUDA)
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace hyb {

#if defined(HYBRIDGE_WITH_CUDA)

namespace {

class GraphedBackend : public ModelBackend {
 public:
  explicit GraphedBackend(std::unique_ptr<ModelBackend> model) : model_(std::move(model)) {}

  std::string kind() const override { return model_->kind() + " (CUDA graphs)"; }
  const std::string &manifest_text() const override { return model_->manifest_text(); }
  std::vector<std::pair<std::string, torch::Tensor>> named_weights() const override {
    return model_->named_weights();
  }
  void to(const torch::Device &device) override {
    graphs_.clear();  // captured for the old device
    model_->to(device);
  }

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args) override {
    for (const auto &a : args)
      if (!a.is_cuda())
        throw Error(HYB_ERR_DEVICE, "cuda_graphs: an argument is on " + a.device().str() + ", not on the GPU");
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
    auto g = std::make_unique<Captured>();
    const c10::cuda::CUDAGuard on_device(args.front().device());
    for (const auto &a : args) g->inputs.push_back(a.clone());
    // TorchScript optimizes its graph and libraries allocate workspaces during the first
    // calls; none of that may happen inside the capture, so warm up first, on a side
    // stream (capture is not allowed on the legacy default stream either).
    const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream();
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    caller.synchronize();  // the clones are complete
    try {
      const c10::cuda::CUDAStreamGuard on_side(side);
      for (int i = 0; i < 3; ++i) model_->forward(g->inputs);
      side.synchronize();
      g->graph.capture_begin();
      g->outputs = model_->forward(g->inputs);
      g->graph.capture_end();
    } catch (const Error &) {
      throw;
    } catch (const std::exception &e) {
      throw Error(HYB_ERR_RUNTIME, std::string("cuda_graphs: capturing the model's forward failed "
                                               "(a model that synchronizes with the host cannot be "
                                               "captured; set cuda_graphs=off): ") + e.what());
    }
    side.synchronize();
    return g;
  }

  std::unique_ptr<ModelBackend> model_;
  std::map<Shapes, std::unique_ptr<Captured>> graphs_;
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
