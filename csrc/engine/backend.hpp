// How the engine reaches a model file. One abstract interface, two implementations:
// TorchScript (torchscript_backend.cpp) and AOTInductor packages, .pt2 (aoti_backend.cpp);
// open_model picks one from the file's content (open_model.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace hyb {

class ModelBackend {
 public:
  virtual ~ModelBackend() = default;
  // "TorchScript" or "AOTInductor package", for messages.
  virtual std::string kind() const = 0;
  // The embedded hybridge_manifest.json (a TorchScript extra file, or the package's
  // extra/hybridge_manifest.json), empty when the file has none.
  virtual const std::string &manifest_text() const = 0;
  // The names of forward's arguments in order (self excluded), empty when the file does not
  // keep them (a traced TorchScript model; a package not written by hybridge export):
  // declarations are checked against them.
  virtual std::vector<std::string> argument_names() const = 0;
  // Before the first forward: a package loads its compiled library here, and refuses a
  // device other than the kind it was compiled for (HYB_ERR_DEVICE).
  virtual void to(const torch::Device &device) = 0;
  // forward(*args); returns the tensors the model returned (one tensor or a tuple/list).
  // Throws hyb::Error(HYB_ERR_RUNTIME) with the model's own reason (model_error.hpp).
  virtual std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args) = 0;
};

// Opens a model file (HYB_ERR_FILE when missing or unreadable, HYB_ERR_LOAD when it is not
// a model), on the CPU, in eval mode: a TorchScript archive, or an AOTInductor package (its
// archive_format record says "pt2"), whatever the file's name.
std::unique_ptr<ModelBackend> open_model(const std::string &path);

// The two formats behind open_model. open_aoti_package reads the package's manifest and
// metadata and refuses (HYB_ERR_LOAD, naming what differs) a package compiled for another
// platform, machine, CPU instruction set or torch version; its library loads in to().
std::unique_ptr<ModelBackend> open_torchscript(const std::string &path);
std::unique_ptr<ModelBackend> open_aoti_package(const std::string &path);

// "sha256:<hex>" over everything in the model file that decides its outputs: every record of
// the zip archive (code, constants, weights; a package's compiled library, its sources and
// metadata), sorted by name, except the manifest itself and torch's per-save serialization id; for each
// record: name NUL size NUL bytes. The same digest as hybridge.manifest.model_checksum(path) in Python.
// HYB_ERR_LOAD when the file is not such an archive.
std::string archive_checksum(const std::string &path);

}  // namespace hyb
