#include <caffe2/serialize/inline_container.h>

#include <algorithm>

#include "backend.hpp"
#include "error.hpp"
#include "model_error.hpp"
#include "sha256.hpp"

namespace hyb {
namespace {

// Records that change with every save or that hold the checksum itself.
bool excluded(const std::string &record) {
  return record == ".data/serialization_id" || record == "extra/hybridge_manifest.json";
}

}  // namespace

std::string archive_checksum(const std::string &path) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    std::vector<std::string> records = reader.getAllRecords();
    std::sort(records.begin(), records.end());
    Sha256 h;
    const char nul = '\0';
    for (const std::string &name : records) {
      if (excluded(name)) continue;
      auto [data, size] = reader.getRecord(name);
      h.update(name);
      h.update(&nul, 1);
      h.update(std::to_string(size));
      h.update(&nul, 1);
      if (size > 0) h.update(data.get(), size);
    }
    return "sha256:" + h.hex_digest();
  } catch (const c10::Error &e) {
    throw Error(HYB_ERR_LOAD, path + " is not a model archive the checksum can read: " +
                                  model_error_text(e.what_without_backtrace()));
  }
}

}  // namespace hyb
