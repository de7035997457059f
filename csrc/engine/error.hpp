// Errors inside the engine: one exception type carrying a C ABI status code.
// The C ABI (c_api.cpp) turns it into the returned status and the thread's last error.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hybridge.h"

namespace hyb {

class Error : public std::runtime_error {
 public:
  Error(int status, const std::string &message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// Short constant name of a status code ("HYB_ERR_SHAPE").
inline const char *status_name(int status) {
  switch (status) {
    case HYB_OK: return "HYB_OK";
    case HYB_ERR_ARGUMENT: return "HYB_ERR_ARGUMENT";
    case HYB_ERR_FILE: return "HYB_ERR_FILE";
    case HYB_ERR_LOAD: return "HYB_ERR_LOAD";
    case HYB_ERR_MANIFEST: return "HYB_ERR_MANIFEST";
    case HYB_ERR_SHAPE: return "HYB_ERR_SHAPE";
    case HYB_ERR_DTYPE: return "HYB_ERR_DTYPE";
    case HYB_ERR_NONFINITE: return "HYB_ERR_NONFINITE";
    case HYB_ERR_HANDLE: return "HYB_ERR_HANDLE";
    case HYB_ERR_DEVICE: return "HYB_ERR_DEVICE";
    case HYB_ERR_RUNTIME: return "HYB_ERR_RUNTIME";
    case HYB_ERR_ORDER: return "HYB_ERR_ORDER";
    case HYB_ERR_NAME: return "HYB_ERR_NAME";
    case HYB_ERR_MPI: return "HYB_ERR_MPI";
    case HYB_ERR_INTERNAL: return "HYB_ERR_INTERNAL";
    default: return "HYB_ERR_UNKNOWN_STATUS";
  }
}

// "[7, 124]"-style text for shapes in messages.
inline std::string shape_str(const std::vector<int64_t> &shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

}  // namespace hyb
