// AOTInductor packages (.pt2: torch.export + torch._inductor.aoti_compile_and_package) through
// torch::inductor::AOTIModelPackageLoader. The compiled model inside is a shared library
// built for one device, one CPU (inductor compiles with -march=native) and one torch. Its
// metadata says which, and is read from the archive before the library is loaded: loading a
// library built for another CPU would die of an illegal instruction, not return an error.
#include <sys/utsname.h>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "backend.hpp"
#include "error.hpp"
#include "model_error.hpp"

namespace hyb {
namespace {

constexpr const char *kManifestRecord = "extra/hybridge_manifest.json";
// torch packages the default model's files under this folder (one model per hybridge file).
constexpr const char *kModelName = "model";
constexpr const char *kModelFolder = "data/aotinductor/model/";

using Metadata = std::map<std::string, std::string>;

std::string record_text(caffe2::serialize::PyTorchStreamReader &reader, const std::string &name) {
  auto [data, size] = reader.getRecord(name);
  return {static_cast<const char *>(data.get()), size};
}

// The compiled model's metadata (the *_metadata.json beside its library): torch's AOTI_*
// keys and what hybridge export adds (hybridge_torch_version, hybridge_cpu_flags,
// hybridge_forward_arguments).
Metadata read_metadata(caffe2::serialize::PyTorchStreamReader &reader, const std::string &path) {
  const std::string folder = kModelFolder;
  const std::string suffix = "_metadata.json";
  for (const std::string &name : reader.getAllRecords()) {
    if (name.rfind(folder, 0) != 0 || name.size() < suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    Metadata metadata;
    try {
      const nlohmann::json parsed = nlohmann::json::parse(record_text(reader, name));
      for (const auto &[key, value] : parsed.items())
        if (value.is_string()) metadata[key] = value.get<std::string>();
    } catch (const nlohmann::json::exception &e) {
      throw Error(HYB_ERR_LOAD,
                  path + ": the package's metadata " + name + " is not valid JSON: " + e.what());
    }
    return metadata;
  }
  throw Error(HYB_ERR_LOAD, path + " is an AOTInductor package without a compiled model '" + kModelName +
                                "' (no " + folder +
                                "*_metadata.json); hybridge runs packages of one model, "
                                "written by hybridge export --format pt2 or aoti_compile_and_package");
}

std::string value_or(const Metadata &m, const std::string &key, const std::string &otherwise) {
  auto it = m.find(key);
  return it == m.end() ? otherwise : it->second;
}

std::set<std::string> words(const std::string &text) {
  std::istringstream in(text);
  std::set<std::string> out;
  for (std::string w; in >> w;) out.insert(w);
  return out;
}

// The instruction-set flags of this CPU, as /proc/cpuinfo lists them (empty elsewhere).
std::set<std::string> this_cpu_flags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("flags", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return words(line.substr(colon + 1));
    }
  return {};
}

const char *this_platform() {
#if defined(__linux__)
  return "linux";
#elif defined(__APPLE__)
  return "darwin";
#else
  return "";
#endif
}

// Everything in the metadata that says the compiled library cannot run in this process.
void require_runnable_here(const Metadata &m, const std::string &path) {
  const std::string again = "; export it again on this machine (hybridge export --format pt2)";
  const std::string platform = value_or(m, "AOTI_PLATFORM", "");
  if (!platform.empty() && *this_platform() && platform != this_platform())
    throw Error(HYB_ERR_LOAD,
                path + " was compiled for platform " + platform + ", this is " + this_platform() + again);
  utsname host{};
  const std::string machine = value_or(m, "AOTI_MACHINE", "");
  if (!machine.empty() && uname(&host) == 0 && machine != host.machine)
    throw Error(HYB_ERR_LOAD,
                path + " was compiled for " + machine + " CPUs, this one is " + host.machine + again);
  const std::string torch_version = value_or(m, "hybridge_torch_version", "");
  const std::string release = torch_version.substr(0, torch_version.find('+'));
  if (!torch_version.empty() && release != TORCH_VERSION)
    throw Error(HYB_ERR_LOAD, path + " was compiled by torch " + torch_version +
                                  ", this hybridge runs libtorch " + TORCH_VERSION +
                                  " (a compiled package runs only with the torch that made it)" + again);
  const std::set<std::string> needed = words(value_or(m, "hybridge_cpu_flags", ""));
  if (needed.empty()) return;
  const std::set<std::string> have = this_cpu_flags();
  if (have.empty()) return;  // no /proc/cpuinfo: nothing to compare with
  std::vector<std::string> missing;
  std::set_difference(needed.begin(), needed.end(), have.begin(), have.end(), std::back_inserter(missing));
  if (missing.empty()) return;
  std::string list;
  for (const auto &f : missing) list += (list.empty() ? "" : " ") + f;
  throw Error(HYB_ERR_LOAD, path + " was compiled for a CPU with instruction sets this CPU lacks (" + list +
                                ")" + again + " or on the oldest CPU it must run on");
}

std::vector<std::string> split_commas(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

class AotiBackend : public ModelBackend {
 public:
  AotiBackend(std::string path, std::string manifest, Metadata metadata)
      : path_(std::move(path)), manifest_(std::move(manifest)), metadata_(std::move(metadata)) {}

  std::string kind() const override { return "AOTInductor package"; }
  const std::string &manifest_text() const override { return manifest_; }

  std::vector<std::string> argument_names() const override {
    return split_commas(value_or(metadata_, "hybridge_forward_arguments", ""));
  }

  // The library is loaded here, for the device the engine chose: a package runs only on the
  // kind of device it was compiled for.
  void to(const torch::Device &device) override {
    const std::string compiled_for = value_or(metadata_, "AOTI_DEVICE_KEY", "cpu");
    if (compiled_for != c10::DeviceTypeName(device.type(), /*lower_case=*/true))
      throw Error(HYB_ERR_DEVICE, path_ + " was compiled for " + compiled_for + " but this model runs on " +
                                      device.str() + " (option device); export it again for " +
                                      c10::DeviceTypeName(device.type(), true) +
                                      " (a package's code is compiled for one kind of device)");
    if (loader_ && device == device_) return;
    // The compiled model checks its inputs' shapes, strides and dtypes only when asked: a
    // manifest that does not match the compiled shapes is then an error at the dry run
    // instead of a read beyond an array. An explicit setting of the caller wins.
    setenv("AOTI_RUNTIME_CHECK_INPUTS", "1", /*overwrite=*/0);
    try {
      loader_ = std::make_unique<torch::inductor::AOTIModelPackageLoader>(
          path_, kModelName, /*run_single_threaded=*/false, /*num_runners=*/1,
          device.has_index() ? device.index() : -1);
    } catch (const std::exception &e) {
      throw Error(HYB_ERR_LOAD,
                  path_ + ": the AOTInductor package cannot be loaded: " + model_error_text(e.what()));
    }
    device_ = device;
  }

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor> &args) override {
    if (!loader_)
      throw Error(HYB_ERR_INTERNAL, path_ + ": the package's library was never loaded (to(device))");
    try {
      return loader_->run(args);
    } catch (const c10::Error &e) {
      throw Error(HYB_ERR_RUNTIME,
                  "the model's forward failed: " + model_error_text(e.what_without_backtrace()));
    } catch (const std::exception &e) {
      throw Error(HYB_ERR_RUNTIME, std::string("the model's forward failed: ") + model_error_text(e.what()));
    }
  }

 private:
  std::string path_;
  std::string manifest_;
  Metadata metadata_;
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader_;
  torch::Device device_{torch::kCPU};
};

}  // namespace

std::unique_ptr<ModelBackend> open_aoti_package(const std::string &path) {
  std::string manifest;
  Metadata metadata;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    metadata = read_metadata(reader, path);
    if (reader.hasRecord(kManifestRecord)) manifest = record_text(reader, kManifestRecord);
  } catch (const c10::Error &e) {
    throw Error(HYB_ERR_LOAD,
                path + " is a damaged AOTInductor package: " + model_error_text(e.what_without_backtrace()));
  }
  require_runnable_here(metadata, path);
  return std::make_unique<AotiBackend>(path, std::move(manifest), std::move(metadata));
}

}  // namespace hyb
