// The model manifest (schema in python/hybridge/manifest.py): parsed, validated, and
// compared with what the host declared.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "hybridge.h"

namespace hyb {

enum class Role { Input = HYB_INPUT, Output = HYB_OUTPUT, State = HYB_STATE };
constexpr std::array<Role, 3> kRoles{Role::Input, Role::Output, Role::State};
const char *role_name(Role role);  // "input", "output", "state"
Role role_from_code(int code);     // throws HYB_ERR_ARGUMENT for a bad code

enum class Dtype { Float32 = HYB_FLOAT32, Float64 = HYB_FLOAT64, Int32 = HYB_INT32, Int64 = HYB_INT64 };
const char *dtype_name(Dtype dtype);  // "float32", "int64", ...: the manifest spelling
bool is_floating(Dtype dtype);
int64_t element_size(Dtype dtype);  // bytes
// what: the thing the code belongs to, for the message ("input 'x'").
Dtype dtype_from_code(int code, const std::string &what);  // throws HYB_ERR_DTYPE

// A named slice of a tensor's last axis, e.g. state_t at offset 0, size 60.
struct Variable {
  std::string name;
  int64_t offset = 0;
  int64_t size = 0;
  std::string units;
};

// One model input, output or recurrent state. shape is per column (no column axis);
// batch_axis is where the column axis sits in the model's tensor, or kUnbatched (-1) for an
// input or output without one: passed whole, the same tensor for every column (one sample,
// a whole field, a scalar such as a month index).
constexpr int kUnbatched = -1;
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  Dtype dtype = Dtype::Float32;
  int batch_axis = 0;
  std::vector<Variable> layout;
  // What training saw, per value of a column (flattened per-column shape), physical units;
  // empty when the manifest has no training statistics.
  std::vector<double> train_min, train_max, train_mean, train_std;

  bool batched() const { return batch_axis != kUnbatched; }
  // Elements per column (of the whole tensor when unbatched); HYB_ERR_SHAPE past int64.
  int64_t per_column_numel() const;
  void validate(Role role) const;  // throws HYB_ERR_MANIFEST
};

// Tensors by role, in the order of the model's calling convention:
// forward(*inputs, *states) -> (*outputs, *new_states).
struct TensorSet {
  std::array<std::vector<TensorSpec>, 3> by_role;

  std::vector<TensorSpec> &specs(Role r) { return by_role[static_cast<int>(r)]; }
  const std::vector<TensorSpec> &specs(Role r) const { return by_role[static_cast<int>(r)]; }
  const TensorSpec *find(Role r, const std::string &name) const;
  // The spec or HYB_ERR_NAME naming the known tensors of that role.
  const TensorSpec &at(Role r, const std::string &name) const;
  bool empty() const;
};

struct Manifest {
  TensorSet tensors;
  std::string name;
  std::string checksum;  // "sha256:<hex>", see model_checksum() in manifest.py
  std::string text;      // the manifest JSON as the model file stores it (or synthesized)
  bool from_model_file = false;

  // Parses and validates a manifest; where names the file for messages.
  static Manifest parse(const std::string &text, const std::string &where);
  // A manifest for a model file without one, made from the host's declarations.
  static Manifest from_declarations(const TensorSet &declared, const std::string &model_name);
};

// Every difference between the host's declarations and the manifest, one sentence each
// (empty when they agree). A role the host declared nothing for is not compared.
std::vector<std::string> compare_declarations(const TensorSet &declared, const TensorSet &model);

}  // namespace hyb
