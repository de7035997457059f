// How the engine reaches a model file. One abstract interface; TorchScript is the one
// implementation today (a torch.export / AOTInductor package would sit beside it).
#pragma once

#include <memory>
#include <string>
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
  // The names of forward's arguments in order (self excluded), empty when the file does not
  // keep them: declarations are checked against them.
  virtual std::vector<std::string> argument_names() const = 0;
  virtual void to(const torch::Device &device) = 0;
  // forward(*args); returns the tensors the model returned (one tensor or a tuple/list).
  // Throws hyb::Error(HYB_ERR_RUNTIME) with the model's own reason (model_error.hpp).
  virtual std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args) = 0;
};

// Opens a model file (HYB_ERR_FILE when missing or unreadable, HYB_ERR_LOAD when it is not
// a model), on the CPU, in eval mode.
std::unique_ptr<ModelBackend> open_model(const std::string &path);

// "sha256:<hex>" over everything in the model file that decides its outputs: every record of
// the zip archive (code, constants, weights), sorted by name, except the manifest itself and
// torch's per-save serialization id; for each record: name NUL size NUL bytes. The same
// digest as hybridge.manifest.model_checksum(path) in Python. HYB_ERR_LOAD when the file is
// not such an archive.
std::string archive_checksum(const std::string &path);

}  // namespace hyb
