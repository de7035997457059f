// TorchScript models: torch::jit::load, eval mode, forward under InferenceMode.
#include <torch/script.h>

#include "backend.hpp"
#include "error.hpp"
#include "model_error.hpp"

namespace hyb {
namespace {

constexpr const char *kManifestFile = "hybridge_manifest.json";

class TorchScriptBackend : public ModelBackend {
 public:
  TorchScriptBackend(torch::jit::Module module, std::string manifest)
      : module_(std::move(module)), manifest_(std::move(manifest)) {
    module_.eval();
  }

  std::string kind() const override { return "TorchScript"; }
  const std::string &manifest_text() const override { return manifest_; }

  std::vector<std::string> argument_names() const override {
    std::vector<std::string> names;
    const auto &arguments = module_.get_method("forward").function().getSchema().arguments();
    for (size_t i = 1; i < arguments.size(); ++i) names.push_back(arguments[i].name());  // [0] is self
    return names;
  }

  void to(const torch::Device &device) override { module_.to(device); }

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args) override {
    c10::InferenceMode guard;
    std::vector<torch::jit::IValue> ivalues(args.begin(), args.end());
    torch::jit::IValue result;
    try {
      result = module_.forward(std::move(ivalues));
    } catch (const c10::Error &e) {
      throw Error(HYB_ERR_RUNTIME,
                  "the model's forward failed: " + model_error_text(e.what_without_backtrace()));
    } catch (const std::exception &e) {
      throw Error(HYB_ERR_RUNTIME, std::string("the model's forward failed: ") + model_error_text(e.what()));
    }
    std::vector<torch::Tensor> out;
    if (result.isTensor()) {
      out.push_back(result.toTensor());
    } else if (result.isTuple()) {
      for (const auto &v : result.toTupleRef().elements()) {
        if (!v.isTensor())
          throw Error(HYB_ERR_RUNTIME,
                      "the model returned a tuple holding a " + v.tagKind() + "; expected only tensors");
        out.push_back(v.toTensor());
      }
    } else if (result.isTensorList()) {
      for (const auto &t : result.toTensorVector()) out.push_back(t);
    } else {
      throw Error(HYB_ERR_RUNTIME,
                  "the model returned a " + result.tagKind() + "; expected a tensor or a tuple of tensors");
    }
    return out;
  }

 private:
  torch::jit::Module module_;
  std::string manifest_;
};

}  // namespace

std::unique_ptr<ModelBackend> open_torchscript(const std::string &path) {
  torch::jit::ExtraFilesMap extra{{kManifestFile, ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error &e) {
    throw Error(HYB_ERR_LOAD, path +
                                  " is not a loadable TorchScript model (truncated, or not saved "
                                  "with torch.jit.save): " +
                                  model_error_text(e.what_without_backtrace()));
  } catch (const std::exception &e) {
    throw Error(HYB_ERR_LOAD, path + " is not a loadable TorchScript model: " + model_error_text(e.what()));
  }
  return std::make_unique<TorchScriptBackend>(std::move(module), extra[kManifestFile]);
}

}  // namespace hyb
