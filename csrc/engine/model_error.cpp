#include "model_error.hpp"

#include <sstream>
#include <vector>

namespace hyb {
namespace {

std::vector<std::string> split_lines(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool starts_with(const std::string &s, const std::string &prefix) { return s.rfind(prefix, 0) == 0; }

std::string trim(const std::string &s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

}  // namespace

std::string model_error_text(const std::string &text) {
  const std::vector<std::string> lines = split_lines(text);
  // The last traceback block; its frames are indented, the error follows unindented.
  size_t block = lines.size();
  for (size_t i = 0; i < lines.size(); ++i)
    if (starts_with(lines[i], "Traceback of TorchScript")) block = i;
  if (block == lines.size()) return text;
  std::string where, code;
  size_t i = block + 1;
  for (; i < lines.size() && (lines[i].empty() || lines[i][0] == ' '); ++i) {
    const std::string t = trim(lines[i]);
    if (starts_with(t, "File \"")) {
      where = t.substr(5);  // "path", line N, in forward
      code.clear();
    } else if (t.find("<--- HERE") != std::string::npos && i > 0) {
      code = trim(lines[i - 1]);  // the line the marker points at
    }
  }
  std::string reason;
  for (; i < lines.size(); ++i) reason += (reason.empty() ? "" : "\n") + lines[i];
  // TorchScript prefixes an exception raised by the model's own code with its module.
  if (starts_with(reason, "builtins.")) reason = reason.substr(9);
  if (reason.empty()) reason = lines.front();
  std::string out = reason;
  if (!where.empty()) out += " [model code " + where + (code.empty() ? "" : ": `" + code + "`") + "]";
  return out + "\n" + text;
}

}  // namespace hyb
