#include "manifest.hpp"

#include <cctype>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "error.hpp"

namespace hyb {
namespace {

using nlohmann::json;

constexpr const char *kSchema = "hybridge-manifest/1";

[[noreturn]] void fail(const std::string &msg) { throw Error(HYB_ERR_MANIFEST, msg); }

bool is_identifier(const std::string &s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '_') return false;
  return true;
}

// Field access with the JSON path in every message.
const json &field(const json &obj, const char *key, const std::string &path) {
  auto it = obj.find(key);
  if (it == obj.end()) fail("manifest field '" + path + "." + key + "' is missing");
  return *it;
}

std::string get_string(const json &v, const std::string &path) {
  if (!v.is_string()) fail("manifest field '" + path + "' must be a string, got " + v.dump());
  return v.get<std::string>();
}

int64_t get_int(const json &v, const std::string &path) {
  if (!v.is_number_integer()) fail("manifest field '" + path + "' must be an integer, got " + v.dump());
  return v.get<int64_t>();
}

void reject_unknown_keys(const json &obj, const std::set<std::string> &known, const std::string &path) {
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (!known.count(it.key())) fail("manifest has an unknown field '" + path + "." + it.key() + "'");
}

TensorSpec parse_spec(const json &j, const std::string &path) {
  if (!j.is_object()) fail("manifest field '" + path + "' must be an object");
  reject_unknown_keys(j, {"name", "shape", "dtype", "batch_axis", "layout", "training"}, path);
  TensorSpec s;
  s.name = get_string(field(j, "name", path), path + ".name");
  const json &shape = field(j, "shape", path);
  if (!shape.is_array()) fail("manifest field '" + path + ".shape' must be a list");
  for (size_t i = 0; i < shape.size(); ++i)
    s.shape.push_back(get_int(shape[i], path + ".shape[" + std::to_string(i) + "]"));
  const std::string dtype = j.contains("dtype") ? get_string(j["dtype"], path + ".dtype") : "float32";
  if (dtype == "float32")
    s.dtype = Dtype::Float32;
  else if (dtype == "float64")
    s.dtype = Dtype::Float64;
  else if (dtype == "int32")
    s.dtype = Dtype::Int32;
  else if (dtype == "int64")
    s.dtype = Dtype::Int64;
  else
    fail(path + " '" + s.name + "': dtype '" + dtype + "' is not one of float32, float64, int32, int64");
  s.batch_axis =
      j.contains("batch_axis") ? static_cast<int>(get_int(j["batch_axis"], path + ".batch_axis")) : 0;
  if (j.contains("training") && !j["training"].is_null()) {
    const json &t = j["training"];
    if (!t.is_object()) fail("manifest field '" + path + ".training' must be an object or null");
    reject_unknown_keys(t, {"min", "max", "mean", "std"}, path + ".training");
    const std::array<std::pair<const char *, std::vector<double> *>, 4> stats{
        {{"min", &s.train_min}, {"max", &s.train_max}, {"mean", &s.train_mean}, {"std", &s.train_std}}};
    for (const auto &[key, values] : stats) {
      const json &list = field(t, key, path + ".training");
      if (!list.is_array()) fail("manifest field '" + path + ".training." + key + "' must be a list");
      for (const auto &v : list) {
        if (!v.is_number()) fail("manifest field '" + path + ".training." + key + "' must hold numbers");
        values->push_back(v.get<double>());
      }
    }
  }
  if (j.contains("layout")) {
    const json &layout = j["layout"];
    if (!layout.is_array()) fail("manifest field '" + path + ".layout' must be a list");
    for (size_t i = 0; i < layout.size(); ++i) {
      const std::string vpath = path + ".layout[" + std::to_string(i) + "]";
      const json &v = layout[i];
      if (!v.is_object()) fail("manifest field '" + vpath + "' must be an object");
      reject_unknown_keys(v, {"name", "offset", "size", "units"}, vpath);
      Variable var;
      var.name = get_string(field(v, "name", vpath), vpath + ".name");
      var.offset = get_int(field(v, "offset", vpath), vpath + ".offset");
      var.size = get_int(field(v, "size", vpath), vpath + ".size");
      if (v.contains("units")) var.units = get_string(v["units"], vpath + ".units");
      s.layout.push_back(var);
    }
  }
  return s;
}

json spec_to_json(const TensorSpec &s) {
  json layout = json::array();
  for (const auto &v : s.layout)
    layout.push_back({{"name", v.name}, {"offset", v.offset}, {"size", v.size}, {"units", v.units}});
  return {{"name", s.name},
          {"shape", s.shape},
          {"dtype", dtype_name(s.dtype)},
          {"batch_axis", s.batch_axis},
          {"layout", layout}};
}

std::string names_of(const std::vector<TensorSpec> &specs) {
  if (specs.empty()) return "none";
  std::string out;
  for (const auto &s : specs) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

}  // namespace

const char *role_name(Role role) {
  switch (role) {
    case Role::Input: return "input";
    case Role::Output: return "output";
    case Role::State: return "state";
  }
  return "?";
}

Role role_from_code(int code) {
  if (code == HYB_INPUT || code == HYB_OUTPUT || code == HYB_STATE) return static_cast<Role>(code);
  throw Error(HYB_ERR_ARGUMENT,
              "role " + std::to_string(code) + " is not HYB_INPUT (0), HYB_OUTPUT (1) or HYB_STATE (2)");
}

const char *dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::Float32: return "float32";
    case Dtype::Float64: return "float64";
    case Dtype::Int32: return "int32";
    case Dtype::Int64: return "int64";
  }
  return "?";
}

bool is_floating(Dtype dtype) { return dtype == Dtype::Float32 || dtype == Dtype::Float64; }

int64_t element_size(Dtype dtype) { return dtype == Dtype::Float32 || dtype == Dtype::Int32 ? 4 : 8; }

Dtype dtype_from_code(int code, const std::string &what) {
  if (code >= HYB_FLOAT32 && code <= HYB_INT64) return static_cast<Dtype>(code);
  throw Error(HYB_ERR_DTYPE, what + ": dtype code " + std::to_string(code) +
                                 " is not HYB_FLOAT32 (0), HYB_FLOAT64 (1), HYB_INT32 (2) or HYB_INT64 (3)");
}

int64_t TensorSpec::per_column_numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      throw Error(HYB_ERR_SHAPE, "tensor '" + name + "': per-column shape " + shape_str(shape) +
                                     " has more elements than a 64-bit count holds");
  return n;
}

void TensorSpec::validate(Role role) const {
  const std::string where = std::string(role_name(role)) + " '" + name + "'";
  if (!is_identifier(name)) fail(where + ": name must be a non-empty identifier");
  if (shape.size() > HYB_MAX_NDIM - 1)
    fail(where + ": per-column shape " + shape_str(shape) + " has more than " +
         std::to_string(HYB_MAX_NDIM - 1) + " axes");
  for (int64_t d : shape)
    if (d <= 0) fail(where + ": shape " + shape_str(shape) + " must be positive integers");
  // Elements times 8 bytes must fit: a larger tensor cannot be addressed at all.
  int64_t bytes = 8;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(bytes, d, &bytes))
      fail(where + ": per-column shape " + shape_str(shape) + " is larger than any memory (over 2^63 bytes)");
  if (batch_axis == kUnbatched) {
    if (role == Role::State)
      fail(where +
           ": batch_axis -1 (no column axis) is for inputs and outputs; recurrent state is per column");
  } else if (batch_axis < 0 || batch_axis > static_cast<int>(shape.size())) {
    fail(where + ": batch_axis " + std::to_string(batch_axis) + " outside 0.." +
         std::to_string(shape.size()) + " (or -1: no column axis)");
  }
  if (!train_min.empty() || !train_max.empty() || !train_mean.empty() || !train_std.empty()) {
    const auto n = static_cast<size_t>(per_column_numel());
    if (train_min.size() != n || train_max.size() != n || train_mean.size() != n || train_std.size() != n)
      fail(where + ": training statistics need " + std::to_string(n) +
           " values each (one per value of a column)");
    for (size_t i = 0; i < n; ++i)
      if (!(train_min[i] <= train_max[i]))
        fail(where + ": training min above max (or not a number) at value " + std::to_string(i));
  }
  if (!layout.empty()) {
    int64_t end = 0;
    for (const auto &v : layout) {
      if (v.offset != end || v.size <= 0)
        fail(where + ": layout variable '" + v.name + "' at offset " + std::to_string(v.offset) + " size " +
             std::to_string(v.size) + "; expected contiguous slices starting at " + std::to_string(end));
      end += v.size;
    }
    if (shape.empty() || end != shape.back())
      fail(where + ": layout covers " + std::to_string(end) + " entries, last axis has " +
           (shape.empty() ? std::string("none") : std::to_string(shape.back())));
  }
}

const TensorSpec *TensorSet::find(Role r, const std::string &name) const {
  for (const auto &s : specs(r))
    if (s.name == name) return &s;
  return nullptr;
}

const TensorSpec &TensorSet::at(Role r, const std::string &name) const {
  if (const TensorSpec *s = find(r, name)) return *s;
  throw Error(HYB_ERR_NAME, std::string("the model has no ") + role_name(r) + " '" + name + "' (its " +
                                role_name(r) + "s: " + names_of(specs(r)) + ")");
}

bool TensorSet::empty() const { return by_role[0].empty() && by_role[1].empty() && by_role[2].empty(); }

Manifest Manifest::parse(const std::string &text, const std::string &where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error &e) {
    fail(where + ": manifest is not valid JSON: " + e.what());
  }
  try {
    if (!j.is_object()) fail(where + ": manifest must be a JSON object");
    reject_unknown_keys(j,
                        {"schema", "name", "inputs", "outputs", "states", "normalization", "physics",
                         "provenance", "checksum"},
                        "manifest");
    Manifest m;
    const std::string schema = get_string(field(j, "schema", "manifest"), "manifest.schema");
    if (schema != kSchema)
      fail(where + ": manifest schema '" + schema + "'; this hybridge reads '" + kSchema + "'");
    if (j.contains("name")) m.name = get_string(j["name"], "manifest.name");
    const std::array<const char *, 3> keys{"inputs", "outputs", "states"};
    for (Role r : kRoles) {
      const char *key = keys[static_cast<int>(r)];
      if (!j.contains(key)) {
        if (r == Role::State) continue;
        fail(where + ": manifest field '" + key + "' is missing");
      }
      const json &list = j[key];
      if (!list.is_array()) fail(where + ": manifest field '" + key + "' must be a list");
      for (size_t i = 0; i < list.size(); ++i)
        m.tensors.specs(r).push_back(parse_spec(list[i], std::string(key) + "[" + std::to_string(i) + "]"));
    }
    if (m.tensors.specs(Role::Input).empty() || m.tensors.specs(Role::Output).empty())
      fail(where + ": a manifest needs at least one input and one output");
    std::set<std::string> seen;
    for (Role r : kRoles)
      for (const auto &s : m.tensors.specs(r)) {
        s.validate(r);
        if (!seen.insert(s.name).second) fail(where + ": tensor name '" + s.name + "' used twice");
      }
    const std::string norm =
        j.contains("normalization") ? get_string(j["normalization"], "manifest.normalization") : "inside";
    if (norm != "inside")
      fail(where + ": normalization '" + norm + "'; must be 'inside' (models take physical units)");
    m.checksum = j.contains("checksum") ? get_string(j["checksum"], "manifest.checksum") : "";
    m.text = text;
    m.from_model_file = true;
    return m;
  } catch (const Error &e) {
    // Messages from the field helpers do not name the file yet.
    const std::string msg = e.what();
    if (msg.rfind(where, 0) == 0) throw;
    throw Error(e.status(), where + ": " + msg);
  }
}

Manifest Manifest::from_declarations(const TensorSet &declared, const std::string &model_name) {
  Manifest m;
  m.tensors = declared;
  m.name = model_name;
  json j = {{"schema", kSchema},
            {"name", model_name},
            {"normalization", "inside"},
            {"physics", json::object()},
            {"provenance",
             {{"manifest",
               "made by the engine from the host's declarations; "
               "the model file has none"}}},
            {"checksum", ""}};
  const std::array<const char *, 3> keys{"inputs", "outputs", "states"};
  for (Role r : kRoles) {
    json list = json::array();
    for (const auto &s : declared.specs(r)) list.push_back(spec_to_json(s));
    j[keys[static_cast<int>(r)]] = list;
  }
  m.text = j.dump(1);
  return m;
}

std::vector<std::string> compare_declarations(const TensorSet &declared, const TensorSet &model) {
  std::vector<std::string> diffs;
  for (Role r : kRoles) {
    const auto &want = declared.specs(r);
    if (want.empty()) continue;
    const std::string role = role_name(r);
    for (const auto &d : want) {
      const TensorSpec *m = model.find(r, d.name);
      const std::string what = role + " '" + d.name + "'";
      if (!m) {
        diffs.push_back(what + " is declared but the model has no such " + role + " (its " + role +
                        "s: " + names_of(model.specs(r)) + ")");
        continue;
      }
      if (m->shape != d.shape)
        diffs.push_back(what + ": per-column shape declared " + shape_str(d.shape) + ", manifest has " +
                        shape_str(m->shape));
      if (m->dtype != d.dtype)
        diffs.push_back(what + ": dtype declared " + dtype_name(d.dtype) + ", manifest has " +
                        dtype_name(m->dtype));
      if (m->batch_axis != d.batch_axis)
        diffs.push_back(what + ": batch_axis declared " + std::to_string(d.batch_axis) + ", manifest has " +
                        std::to_string(m->batch_axis));
    }
    for (const auto &m : model.specs(r))
      if (!declared.find(r, m.name))
        diffs.push_back(role + " '" + m.name + "' is in the model but was not declared");
  }
  return diffs;
}

}  // namespace hyb
