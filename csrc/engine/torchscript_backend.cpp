// TorchScript models: torch::jit::load, eval mode, forward under InferenceMode.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <torch/script.h>

#include "backend.hpp"
#include "error.hpp"
#include "sha256.hpp"

namespace hyb {
namespace {

constexpr const char *kManifestFile = "hybridge_manifest.json";

// First line of a libtorch message: the rest is a C++ or TorchScript trace.
std::string first_line(const std::string &msg) { return msg.substr(0, msg.find('\n')); }

class TorchScriptBackend : public ModelBackend {
 public:
  TorchScriptBackend(torch::jit::Module module, std::string manifest)
      : module_(std::move(module)), manifest_(std::move(manifest)) {
    module_.eval();
  }

  std::string kind() const override { return "TorchScript"; }
  const std::string &manifest_text() const override { return manifest_; }

  std::vector<std::pair<std::string, torch::Tensor>> named_weights() const override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto &p : module_.named_parameters(/*recurse=*/true)) out.emplace_back(p.name, p.value);
    for (const auto &b : module_.named_buffers(/*recurse=*/true)) out.emplace_back(b.name, b.value);
    return out;
  }

  void to(const torch::Device &device) override { module_.to(device); }

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args) override {
    c10::InferenceMode guard;
    std::vector<torch::jit::IValue> ivalues(args.begin(), args.end());
    torch::jit::IValue result;
    try {
      result = module_.forward(ivalues);
    } catch (const c10::Error &e) {
      throw Error(HYB_ERR_RUNTIME, "the model's forward failed: " + first_line(e.what_without_backtrace()));
    } catch (const std::exception &e) {
      throw Error(HYB_ERR_RUNTIME, std::string("the model's forward failed: ") + first_line(e.what()));
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

const char *python_dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return "float32";
    case torch::kDouble: return "float64";
    case torch::kHalf: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kLong: return "int64";
    case torch::kInt: return "int32";
    case torch::kShort: return "int16";
    case torch::kChar: return "int8";
    case torch::kByte: return "uint8";
    case torch::kBool: return "bool";
    case torch::kComplexFloat: return "complex64";
    case torch::kComplexDouble: return "complex128";
    default: return c10::toString(t);
  }
}

}  // namespace

std::unique_ptr<ModelBackend> open_model(const std::string &path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(HYB_ERR_FILE, "model file not found: " + path);
  if (!fs::is_regular_file(path, ec)) throw Error(HYB_ERR_FILE, "model path is not a file: " + path);
  if (!std::ifstream(path, std::ios::binary).good())
    throw Error(HYB_ERR_FILE, "model file cannot be read (permissions?): " + path);

  torch::jit::ExtraFilesMap extra{{kManifestFile, ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error &e) {
    throw Error(HYB_ERR_LOAD, path +
                                  " is not a loadable TorchScript model (truncated, or not saved "
                                  "with torch.jit.save): " +
                                  first_line(e.what_without_backtrace()));
  } catch (const std::exception &e) {
    throw Error(HYB_ERR_LOAD, path + " is not a loadable TorchScript model: " + first_line(e.what()));
  }
  return std::make_unique<TorchScriptBackend>(std::move(module), extra[kManifestFile]);
}

std::string weights_checksum(std::vector<std::pair<std::string, torch::Tensor>> named) {
  std::sort(named.begin(), named.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
  Sha256 h;
  const char nul = '\0';
  for (const auto &[name, tensor] : named) {
    const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    h.update(name);
    h.update(&nul, 1);
    h.update(python_dtype_name(t.scalar_type()));
    h.update(&nul, 1);
    std::string dims;
    for (int64_t i = 0; i < t.dim(); ++i) dims += (i ? "," : "") + std::to_string(t.size(i));
    h.update(dims);
    h.update(&nul, 1);
    // x86-64 and aarch64 are little-endian: the in-memory bytes are the digest's bytes.
    if (t.numel() > 0) h.update(t.data_ptr(), t.numel() * t.element_size());
  }
  return "sha256:" + h.hex_digest();
}

}  // namespace hyb
