// Engine options (hyb_model_set_option): their values, their bounds, and whether they may
// change after load. One table, docs/options.md, lists them for users.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hyb {

struct Options {
  std::string device = "cpu";     // cpu | cuda | cuda:N | auto
  int threads = 0;                // intra-op threads for this model's runs; 0: libtorch's default
  bool reject_nonfinite = true;   // nonfinite = reject | pass
  int64_t chunk = 0;              // 0: the whole batch in one forward; N: fixed chunks of N columns
  std::string batching = "rank";  // rank | node
  bool cuda_graphs = false;       // replay the forward as a CUDA graph (cuda_graph.hpp)
  bool keep_heap = true;          // heap=keep: freed heap stays mapped between calls (heap.hpp)
  bool seeded = false;            // seed=N given: random draws reproducible (rng.hpp)
  uint64_t seed = 0;
  int64_t node_timeout_s = 600;       // how long a rank waits for the others of its node
  std::string record_dir;             // record=DIR: calls written there (record.hpp)
  std::vector<int64_t> record_calls;  // record_calls=1,5,10 (1-based call numbers)
  int64_t record_every = 0;           // record_every=N: every N-th call
  std::string guard = "off";          // off | fallback | clip: inputs and outputs against training ranges
  double guard_margin = 0.1;          // allowed excess beyond the training range, as a fraction of it
};

// The step a seeded model's draws are derived from: option `step`, settable any time.
struct StepOption {
  bool given = false;
  int64_t value = 0;
};

// Applies key=value to `options` (or `step`). Unknown keys, malformed values and values
// outside their bounds are HYB_ERR_ARGUMENT naming the option, the value and the bounds; an
// option that must come before load is HYB_ERR_ORDER when `loaded`.
void set_option(Options &options, StepOption &step, const std::string &key, const std::string &value,
                bool loaded, const std::string &loaded_path);

// "threads=1;chunk=16;..." of the options that decide a run's results, for comparing ranks.
std::string results_fingerprint(const Options &options);

}  // namespace hyb
