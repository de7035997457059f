// Options record=DIR, record_calls=1,5,10 / record_every=N: the engine writes the host
// arrays of chosen calls (inputs as bound, outputs as returned, recurrent state before and
// after) to DIR, so that `hybridge verify replay DIR` can rerun them in Python with the same
// casts and chunks and prove a host's own coupling bit for bit (docs/verify.md).
//
// DIR/<who>.call<K>/ per recorded call K (1-based, per handle), <who> = rank<R> with a
// communicator, else pid<P>; inside: call.json (model, checksum, options, tensors) and one
// NumPy .npy file per array: input.<name>.npy, output.<name>.npy, state_in.<name>.npy,
// state_out.<name>.npy. A call's folder appears whole (written under .tmp, then renamed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "manifest.hpp"
#include "options.hpp"

namespace hyb {

class CallRecorder {
 public:
  // Checks that DIR can be written (HYB_ERR_FILE naming it and the reason otherwise).
  CallRecorder(Options options, std::string model_path, std::string checksum, std::string who);

  // Counts a call; true when this one is to be written.
  bool next_call();
  int64_t call() const { return call_; }

  // Writes the recorded arrays of the current call: (name, host tensor) per role.
  void write(const Manifest &manifest, const std::vector<std::pair<std::string, torch::Tensor>> &inputs,
             const std::vector<std::pair<std::string, torch::Tensor>> &outputs,
             const std::vector<std::pair<std::string, torch::Tensor>> &state_in,
             const std::vector<std::pair<std::string, torch::Tensor>> &state_out, int64_t step) const;

 private:
  Options options_;
  std::string model_path_, checksum_, who_;
  int64_t call_ = 0;
};

// Writes a contiguous CPU tensor as a NumPy .npy file (version 1.0, little-endian).
void write_npy(const std::string &path, const torch::Tensor &tensor);

}  // namespace hyb
