#include "connector/mapping/shipped_files.h"

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

}  // namespace siem
