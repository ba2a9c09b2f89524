// Where the shipped mapping files live: config `mappings.dir`, else $SIEM_MAPPINGS_DIR, else next to
// the binary (<exe>/../mappings, <exe>/../share/siem-connector/mappings), else the source tree the
// binary was built from.
#pragma once

#include <filesystem>
#include <optional>

namespace siem {

std::filesystem::path find_mappings_dir(const std::optional<std::filesystem::path>& configured = std::nullopt);

}  // namespace siem
