// The reason a model failed, out of a libtorch or TorchScript error text: the innermost
// error first (what the model's author wrote, or the operator's complaint), then where in
// the model's code it happened, then the full text, so that a message cut to a Fortran
// errmsg's length still says why.
#pragma once

#include <string>

namespace hyb {

// "RuntimeError: Sizes of tensors must match ... [model code "/path/model.py", line 7, in
// forward: `return torch.cat([y, x[:, :2]], dim=0)`]" followed by a newline and the whole
// original text; a text that is no TorchScript traceback comes back unchanged.
std::string model_error_text(const std::string &libtorch_text);

}  // namespace hyb
