#include "record.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "error.hpp"

namespace hyb {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail_file(const std::string &what, const std::string &path, const std::string &reason) {
  throw Error(HYB_ERR_FILE, "option record: " + what + " " + path + ": " + reason);
}

const char *npy_descr(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return "<f4";
    case torch::kDouble: return "<f8";
    case torch::kInt: return "<i4";
    case torch::kLong: return "<i8";
    default: throw Error(HYB_ERR_INTERNAL, "record: no .npy type for " + std::string(c10::toString(t)));
  }
}

nlohmann::json spec_json(const TensorSpec &s) {
  return {{"shape", s.shape}, {"dtype", dtype_name(s.dtype)}, {"batch_axis", s.batch_axis}};
}

}  // namespace

void write_npy(const std::string &path, const torch::Tensor &tensor) {
  const torch::Tensor t = tensor.to(torch::kCPU).contiguous();
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += std::to_string(t.size(i)) + ",";
  if (t.dim() > 1) shape.pop_back();
  shape += ')';
  std::string header = std::string("{'descr': '") + npy_descr(t.scalar_type()) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + length (2) + header + '\n' padded to a multiple of 64
  header.append(63 - ((10 + header.size()) % 64), ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const auto len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(len & 0xFFU));
  out.put(static_cast<char>(len >> 8U));
  out << header;
  out.write(static_cast<const char *>(t.data_ptr()),
            static_cast<std::streamsize>(t.numel() * t.element_size()));
  out.close();
  if (!out) fail_file("cannot write", path, std::strerror(errno));
}

CallRecorder::CallRecorder(Options options, std::string model_path, std::string checksum, std::string who)
    : options_(std::move(options)),
      model_path_(std::move(model_path)),
      checksum_(std::move(checksum)),
      who_(std::move(who)) {
  std::error_code ec;
  fs::create_directories(options_.record_dir, ec);
  if (ec) fail_file("cannot create the folder", options_.record_dir, ec.message());
  const fs::path probe = fs::path(options_.record_dir) / (".probe." + who_);
  std::ofstream(probe) << "hybridge";
  if (!fs::exists(probe, ec))
    fail_file("cannot write into the folder", options_.record_dir, std::strerror(EACCES));
  fs::remove(probe, ec);
}

bool CallRecorder::next_call() {
  ++call_;
  if (options_.record_every > 0 && call_ % options_.record_every == 0) return true;
  for (int64_t k : options_.record_calls)
    if (k == call_) return true;
  return false;
}

void CallRecorder::write(const Manifest &manifest,
                         const std::vector<std::pair<std::string, torch::Tensor>> &inputs,
                         const std::vector<std::pair<std::string, torch::Tensor>> &outputs,
                         const std::vector<std::pair<std::string, torch::Tensor>> &state_in,
                         const std::vector<std::pair<std::string, torch::Tensor>> &state_out,
                         int64_t step) const {
  const fs::path final_dir = fs::path(options_.record_dir) / (who_ + ".call" + std::to_string(call_));
  const fs::path tmp = final_dir.string() + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) fail_file("cannot create", tmp.string(), ec.message());
  nlohmann::json j = {{"schema", "hybridge-record/1"},
                      {"model", model_path_},
                      {"checksum", checksum_},
                      {"call", call_},
                      {"chunk", options_.chunk},
                      {"seed", options_.seeded ? nlohmann::json(options_.seed) : nlohmann::json(nullptr)},
                      {"step", step}};
  for (Role r : kRoles) {
    nlohmann::json list = nlohmann::json::object();
    for (const auto &s : manifest.tensors.specs(r)) list[s.name] = spec_json(s);
    j[std::string(role_name(r)) + "s"] = list;
  }
  auto dump = [&](const char *prefix, const std::vector<std::pair<std::string, torch::Tensor>> &arrays) {
    for (const auto &[name, t] : arrays)
      write_npy((tmp / (std::string(prefix) + "." + name + ".npy")).string(), t);
  };
  dump("input", inputs);
  dump("output", outputs);
  dump("state_in", state_in);
  dump("state_out", state_out);
  std::ofstream(tmp / "call.json") << j.dump(1) << '\n';
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) fail_file("cannot rename", tmp.string(), ec.message());
}

}  // namespace hyb
