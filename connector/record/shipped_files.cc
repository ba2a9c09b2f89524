#include "connector/record/shipped_files.h"

#include <algorithm>
#include <cstdlib>
#include <system_error>

#ifndef SIEM_SOURCE_MAPPINGS_DIR
#define SIEM_SOURCE_MAPPINGS_DIR "mappings"
#endif

namespace siem {

std::filesystem::path find_mappings_dir(const std::optional<std::filesystem::path>& configured) {
  if (configured) return *configured;
  if (const char* env = std::getenv("SIEM_MAPPINGS_DIR"); env && *env) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const auto& candidate : {exe.parent_path() / "../mappings", exe.parent_path() / "../share/siem-connector/mappings",
                                  exe.parent_path() / "mappings"}) {
      if (std::filesystem::exists(candidate / "common.yaml", ec)) return candidate.lexically_normal();
    }
  }
  return SIEM_SOURCE_MAPPINGS_DIR;
}

std::vector<std::string> shipped_mapping_files(const std::filesystem::path& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!std::filesystem::exists(dir / "common.yaml", ec)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() == ".yaml" && name != "common.yaml" && name != "privileged-roles.yaml")
      files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  files.insert(files.begin(), (dir / "common.yaml").string());
  return files;
}

}  // namespace siem
