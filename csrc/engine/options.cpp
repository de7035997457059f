#include "options.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "device.hpp"
#include "error.hpp"

namespace hyb {
namespace {

// Upper bound of chunk: a batch of 2^24 columns is far beyond any rank's columns, and the
// engine allocates chunk columns of every tensor for the padded batch.
constexpr int64_t kMaxChunk = int64_t{16} * 1024 * 1024;
// A node's ranks wait for each other at most this long (a week); 1 s at least.
constexpr int64_t kMaxNodeTimeout = int64_t{7} * 24 * 3600;

int64_t parse_int(const std::string &key, const std::string &value, int64_t min, int64_t max,
                  const std::string &bound_note = "") {
  const std::string range = std::to_string(min) + ".." + std::to_string(max) + bound_note;
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
    throw Error(HYB_ERR_ARGUMENT,
                "option " + key + ": value '" + value + "' is not a whole number (allowed: " + range + ")");
  // More digits than int64 holds is out of range, not malformed.
  const std::string digits = value.substr(std::min(value.find_first_not_of('0'), value.size() - 1));
  if (digits.size() > 18 || std::stoll(digits) > max || std::stoll(digits) < min)
    throw Error(HYB_ERR_ARGUMENT, "option " + key + ": value " + value + " is out of range " + range);
  return std::stoll(digits);
}

bool parse_choice(const std::string &key, const std::string &value, const char *yes, const char *no) {
  if (value == yes) return true;
  if (value == no) return false;
  throw Error(HYB_ERR_ARGUMENT, "option " + key + ": value '" + value + "' is not one of " + yes + ", " + no);
}

std::vector<int64_t> parse_call_list(const std::string &key, const std::string &value) {
  std::vector<int64_t> calls;
  std::stringstream in(value);
  for (std::string item; std::getline(in, item, ',');) calls.push_back(parse_int(key, item, 1, INT64_MAX));
  if (calls.empty()) throw Error(HYB_ERR_ARGUMENT, "option " + key + ": no call numbers in '" + value + "'");
  std::sort(calls.begin(), calls.end());
  return calls;
}

}  // namespace

void set_option(Options &o, StepOption &step, const std::string &key, const std::string &value, bool loaded,
                const std::string &loaded_path) {
  auto before_load = [&] {
    if (loaded)
      throw Error(HYB_ERR_ORDER, "option " + key + " must be set before hyb_model_load (model " +
                                     loaded_path + " is already loaded)");
  };
  if (key == "device") {
    before_load();
    check_device_option(value);
    o.device = value;
  } else if (key == "threads") {
    const auto cores = static_cast<int64_t>(std::max(1U, std::thread::hardware_concurrency()));
    o.threads = static_cast<int>(parse_int(key, value, 1, cores, " (this machine's logical CPUs)"));
  } else if (key == "nonfinite") {
    o.reject_nonfinite = parse_choice(key, value, "reject", "pass");
  } else if (key == "chunk") {
    before_load();
    o.chunk = parse_int(key, value, 0, kMaxChunk);
  } else if (key == "batching") {
    before_load();
    o.batching = parse_choice(key, value, "node", "rank") ? "node" : "rank";
  } else if (key == "cuda_graphs") {
    before_load();
    o.cuda_graphs = parse_choice(key, value, "on", "off");
  } else if (key == "heap") {
    before_load();
    o.keep_heap = parse_choice(key, value, "keep", "system");
  } else if (key == "seed") {
    before_load();
    o.seeded = true;
    o.seed = static_cast<uint64_t>(parse_int(key, value, 0, INT64_MAX));
  } else if (key == "step") {
    step.given = true;
    step.value = parse_int(key, value, 0, INT64_MAX);
  } else if (key == "node_timeout") {
    before_load();
    o.node_timeout_s = parse_int(key, value, 1, kMaxNodeTimeout);
  } else if (key == "record") {
    before_load();
    if (value.empty()) throw Error(HYB_ERR_ARGUMENT, "option record: the folder name is empty");
    o.record_dir = value;
  } else if (key == "record_calls") {
    before_load();
    o.record_calls = parse_call_list(key, value);
  } else if (key == "record_every") {
    before_load();
    o.record_every = parse_int(key, value, 1, INT64_MAX);
  } else if (key == "guard") {
    before_load();
    if (value != "off" && value != "fallback" && value != "clip")
      throw Error(HYB_ERR_ARGUMENT, "option guard: value '" + value + "' is not one of off, fallback, clip");
    o.guard = value;
  } else if (key == "guard_margin") {
    before_load();
    char *end = nullptr;
    const double margin = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(margin) || margin < 0 ||
        margin > 1000)
      throw Error(HYB_ERR_ARGUMENT,
                  "option guard_margin: value '" + value +
                      "' is not a number from 0 to 1000 (the allowed excess beyond the training "
                      "range, as a fraction of that range)");
    o.guard_margin = margin;
  } else {
    throw Error(HYB_ERR_ARGUMENT,
                "unknown option '" + key +
                    "'; options are device, threads, nonfinite, chunk, batching, cuda_graphs, "
                    "heap, seed, step, node_timeout, record, record_calls, record_every, guard, "
                    "guard_margin");
  }
}

std::string results_fingerprint(const Options &o) {
  std::ostringstream s;
  s << "batching=" << o.batching << ";chunk=" << o.chunk
    << ";nonfinite=" << (o.reject_nonfinite ? "reject" : "pass")
    << ";seed=" << (o.seeded ? std::to_string(o.seed) : "none")
    << ";cuda_graphs=" << (o.cuda_graphs ? "on" : "off") << ";node_timeout=" << o.node_timeout_s
    << ";guard=" << o.guard << ";guard_margin=" << o.guard_margin;
  return s.str();
}

}  // namespace hyb
