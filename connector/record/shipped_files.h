// Where the shipped mapping files live: config `mappings.dir`, else $SIEM_MAPPINGS_DIR, else next to
// the binary (<exe>/../mappings, <exe>/../share/siem-connector/mappings), else the source tree the
// binary was built from.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace siem {

std::filesystem::path find_mappings_dir(const std::optional<std::filesystem::path>& configured = std::nullopt);

// The shipped mapping files of `dir` in load order: common.yaml, then each kind's file by name
// (privileged-roles.yaml is data, not a mapping). Empty when `dir` has no common.yaml.
std::vector<std::string> shipped_mapping_files(const std::filesystem::path& dir);

}  // namespace siem
