// open_model: a model file's format told from its content, never from its name. Both
// formats are zip archives; an AOTInductor package names itself in its archive_format record.
#include <caffe2/serialize/inline_container.h>

#include <filesystem>
#include <fstream>

#include "backend.hpp"
#include "error.hpp"
#include "model_error.hpp"

namespace hyb {
namespace {

bool is_aoti_package(caffe2::serialize::PyTorchStreamReader &reader) {
  if (!reader.hasRecord("archive_format")) return false;
  auto [data, size] = reader.getRecord("archive_format");
  return std::string(static_cast<const char *>(data.get()), size) == "pt2";
}

}  // namespace

std::unique_ptr<ModelBackend> open_model(const std::string &path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(HYB_ERR_FILE, "model file not found: " + path);
  if (!fs::is_regular_file(path, ec)) throw Error(HYB_ERR_FILE, "model path is not a file: " + path);
  if (!std::ifstream(path, std::ios::binary).good())
    throw Error(HYB_ERR_FILE, "model file cannot be read (permissions?): " + path);
  bool package = false;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    package = is_aoti_package(reader);
  } catch (const c10::Error &e) {
    throw Error(HYB_ERR_LOAD,
                path +
                    " is not a model file: neither a TorchScript archive (torch.jit.save) nor an "
                    "AOTInductor package (.pt2), or truncated: " +
                    model_error_text(e.what_without_backtrace()));
  }
  return package ? open_aoti_package(path) : open_torchscript(path);
}

}  // namespace hyb
