// `siem-connector inventory`: reads the privileged-identity inventory from Graph now, with the
// configured graph_pim source's connection, and prints one record per privileged principal
// (ECS, CEF, the raw inventory record, or one JSON document). It changes nothing: no checkpoint,
// no change events (those come from the scheduled inventory of `run`).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/app/commands.h"
#include "connector/app/inventory_source.h"
#include "connector/app/pipeline_builder.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/enrichment/roster.h"
#include "connector/mapping/mapper.h"
#include "connector/state/state_store.h"

namespace siem::app {

namespace {

// The graph_pim source named `wanted` (or the only / first one).
std::optional<std::pair<ConfigNode, std::string>> find_pim_source(ConfigNode root, const std::optional<std::string>& wanted,
                                                                   std::string& error) {
  std::vector<std::pair<ConfigNode, std::string>> found;
  for (const auto& s : root.list("sources")) {
    if (s.string("type", "") != "graph_pim") continue;
    const std::string name = s.string("name", "");
    if (!wanted || *wanted == name) found.emplace_back(s, name);
  }
  if (found.empty()) {
    error = wanted ? fmt::format("no graph_pim source named '{}' in the configuration", *wanted)
                   : "the configuration has no graph_pim source (its connection reads the role assignments)";
    return std::nullopt;
  }
  if (found.size() > 1)
    spdlog::info("inventory: {} graph_pim sources; reading '{}' (choose with --source)", found.size(), found.front().second);
  return found.front();
}

// The roster `run` saved, for the last privileged sign-ins: only when the state directory exists
// and no running connector holds it (the store's lock).
std::unique_ptr<Roster> roster_from_state(ConfigDocument& doc) {
  const auto dir = read_state_dir(doc);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return nullptr;
  try {
    StateStore state(dir);
    return saved_roster(&state);
  } catch (const std::exception& e) {
    spdlog::info("inventory: last privileged sign-ins not reported ({})", e.what());
    return nullptr;
  }
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int inventory_command(const InventoryOptions& options, const GlobalOptions&) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_file(options.config_file, diags);
  std::optional<InventorySettings> settings;
  std::unique_ptr<Mapper> mapper;
  std::string error;
  if (!diags.has_errors()) {
    auto root = doc->root();
    if (const auto src = find_pim_source(root, options.source, error)) {
      settings = read_inventory_section(src->first, src->second, true);
      if (!diags.has_errors()) complete_inventory_settings(*settings, src->first, root.child("enrichment"));
    }
    if (!diags.has_errors()) mapper = make_mapping_stage(root, nullptr);
  }
  if (diags.has_errors() || !error.empty() || !settings || !mapper) {
    std::cerr << diags.format();
    if (!error.empty()) std::cerr << "siem-connector inventory: " << error << "\n";
    return 1;
  }

  std::vector<nlohmann::json> records;
  try {
    sources::InventoryReader reader(settings->connection, settings->read);
    const auto roster = roster_from_state(*doc);
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    records = take_inventory(reader, *settings, roster.get(), now, {}).value_or(std::vector<nlohmann::json>{});
  } catch (const std::exception& e) {
    std::cerr << fmt::format("siem-connector inventory: cannot read the role assignments of tenant {} from Graph: {}\n",
                             settings->connection.auth.tenant_id, e.what());
    return 2;
  }

  std::string out;
  std::size_t failed = 0;
  if (options.format == "json") {
    out = nlohmann::json(records).dump(2) + "\n";
  } else {
    const auto format = output_format_from_string(options.format).value_or(OutputFormat::ecs);
    MappedEvent ev;
    for (const auto& r : records) {
      RawRecord rec;
      rec.json = r.dump();
      rec.origin = "inventory " + r.value("id", "");
      rec.kind_hint = SourceKind::privileged_inventory;
      rec.tenant_hint = settings->connection.auth.tenant_id;
      if (auto err = mapper->map(rec, SourceKind::privileged_inventory, format_bit(format), ev)) {
        std::cerr << fmt::format("{}: {}\n", rec.origin, *err);
        ++failed;
        continue;
      }
      out += ev.payload(format);
      out += '\n';
    }
  }
  int fd = STDOUT_FILENO;
  if (options.output) {
    fd = ::open(options.output->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      std::cerr << fmt::format("siem-connector inventory: cannot write {}: {}\n", *options.output, std::strerror(errno));
      return 3;
    }
  }
  const bool written = write_all(fd, out);
  if (options.output && ::close(fd) != 0) failed += 1;
  if (!written) {
    std::cerr << fmt::format("siem-connector inventory: cannot write {}: {}\n", options.output.value_or("<stdout>"),
                             std::strerror(errno));
    return 3;
  }
  spdlog::info("inventory of tenant {}: {} privileged principal(s)", settings->connection.auth.tenant_id, records.size());
  return failed > 0 ? 3 : 0;
}

}  // namespace siem::app
