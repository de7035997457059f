// How the engine reaches a model file. One abstract interface; TorchScript is the one
// implementation today (a torch.export / AOTInductor package would sit beside it).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace hyb {

class ModelBackend {
 public:
  virtual ~ModelBackend() = default;
  // "TorchScript", for messages.
  virtual std::string kind() const = 0;
  // The embedded hybridge_manifest.json, empty when the file has none.
  virtual const std::string &manifest_text() const = 0;
  // Parameters and buffers by name, on the CPU (for the checksum).
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_weights() const = 0;
  virtual void to(const torch::Device &device) = 0;
  // forward(*args); returns the tensors the model returned (one tensor or a tuple/list).
  // Throws hyb::Error(HYB_ERR_RUNTIME) naming the failure.
  virtual std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args) = 0;
};

// Opens a model file (HYB_ERR_FILE when missing or unreadable, HYB_ERR_LOAD when it is not
// a model), on the CPU, in eval mode.
std::unique_ptr<ModelBackend> open_model(const std::string &path);

// sha256 of the weights exactly as model_checksum() in python/hybridge/manifest.py:
// for each tensor, sorted by name: name NUL dtype NUL "d1,d2" NUL raw little-endian bytes.
std::string weights_checksum(std::vector<std::pair<std::string, torch::Tensor>> named);

}  // namespace hyb
