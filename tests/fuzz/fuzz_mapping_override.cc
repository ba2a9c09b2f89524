// Fuzz target: arbitrary text as an operator's mapping override file (`mappings.overrides`) ->
// MappingSet compilation (over a reduced copy of the shipped files) -> the Mapper over a fixed set
// of real records.
//
// Must hold for every input (a violation aborts, so libFuzzer saves the input as a crash):
//   - compilation never throws: a bad override becomes a Diagnostic naming the file;
//   - an override that compiles without errors never makes the output invalid: every record of
//     every kind still maps to one-line ECS that strict JSON parsing accepts and to a CEF line the
//     strict CEF parser accepts;
//   - every rule's fast paths (Rule::append_json, string_view, integer_constant) give what
//     Rule::evaluate() gives (tests/support/fast_path_check.h), for every rule shape it accepts;
//   - no crash, hang, leak or undefined behaviour (ASan/UBSan).
// The records are the small samples in tests/data (one per kind), read once at start-up.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "connector/config/config_node.h"
#include "connector/core/record_reader.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/kind_detect.h"
#include "connector/mapping/mapper.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/record/cef_parser.h"
#include "connector/record/shipped_files.h"
#include "tests/support/fast_path_check.h"

#if !defined(SIEM_FUZZ_DATA_DIR) || !defined(SIEM_FUZZ_MAPPINGS_DIR)
#error "SIEM_FUZZ_DATA_DIR and SIEM_FUZZ_MAPPINGS_DIR must name tests/data and mappings"
#endif

namespace {

[[noreturn]] void violation(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_mapping_override: %s\n%.*s\n", what,
               static_cast<int>(std::min<std::size_t>(detail.size(), 4096)), detail.data());
  std::abort();
}

std::vector<std::string>& records() {
  static std::vector<std::string> r;
  return r;
}

std::string& work_dir() {
  static std::string p;
  return p;
}

std::string& override_path() {
  static std::string p;
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  for (const char* name : {"graph-directoryaudit-beta-update-user.json", "graph-signins-list-beta-failed-50126.json",
                           "graph-roleassignmentschedulerequest-selfactivate-v1.json",
                           "graph-roleeligibilityscheduleinstances-list-v1.json", "arm-activitylog-event-administrative.json",
                           "arm-pim-roleassignmentschedulerequests-list.json", "eventhub-auditlogs-pim-record.json",
                           "eventhub-signinlogs-record.json", "eventhub-activitylog-records-envelope.json"}) {
    std::ifstream in(std::string(SIEM_FUZZ_DATA_DIR) + "/" + name, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.empty()) violation("cannot read sample", name);
    siem::RecordReader::split(text, [](const siem::RecordSlice& s) { records().emplace_back(s.json); },
                              [&](const siem::ReadError& e) { violation(e.reason.c_str(), name); });
  }
  records().emplace_back(R"({"unrecognised":"shape","when":"2026-03-04T10:15:30Z"})");
  // A reduced copy of the shipped mappings (compiling all of them per input would leave a few
  // executions per second): common, the generic mapping and two kinds; other kinds fall back.
  const auto base = std::filesystem::temp_directory_path() / ("siem-fuzz-mappings-" + std::to_string(::getpid()));
  std::filesystem::create_directories(base / "shipped");
  for (const char* name : {"common.yaml", "unknown.yaml", "graph_sign_in.yaml", "graph_pim_request.yaml"})
    std::filesystem::copy_file(std::filesystem::path(SIEM_FUZZ_MAPPINGS_DIR) / name, base / "shipped" / name,
                               std::filesystem::copy_options::overwrite_existing);
  work_dir() = base.string();
  override_path() = (base / "override.yaml").string();
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(work_dir(), ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(override_path(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  siem::Diagnostics diags;
  std::unique_ptr<siem::Mapper> mapper;
  try {
    auto doc = siem::ConfigDocument::load_string("mappings:\n  dir: '" + work_dir() + "/shipped'\n  overrides: ['" + override_path() + "']\n", "fuzz.yaml", diags);
    auto root = doc->root();
    mapper = siem::make_mapping_stage(root, nullptr);
  } catch (const std::exception& e) {
    violation((std::string("exception escaped mapping compilation: ") + e.what()).c_str(),
              std::string_view(reinterpret_cast<const char*>(data), size));
  }
  for (const auto& d : diags.items())
    if (d.message.empty()) violation("diagnostic without a message", diags.format());
  if (diags.has_errors() || !mapper) return 0;  // rejected, as validate would: fine

  const siem::FormatSet both = siem::format_bit(siem::OutputFormat::ecs) | siem::format_bit(siem::OutputFormat::cef);
  for (const auto& json : records()) {
    siem::RawRecord rec;
    rec.json = json;
    siem::MappedEvent ev;
    if (auto err = mapper->map(rec, std::nullopt, both, ev)) violation(("a valid override made a sample fail: " + *err).c_str(), json);
    if (ev.ecs.find('\n') != std::string::npos) violation("ECS document spans several lines", ev.ecs);
    try {
      if (!nlohmann::json::parse(ev.ecs).is_object()) violation("ECS document is not an object", ev.ecs);
    } catch (const nlohmann::json::exception& e) {
      violation(e.what(), ev.ecs);
    }
    std::string error;
    if (!siem::parse_cef_strict(ev.cef, &error)) violation(("CEF line rejected by the strict parser: " + error).c_str(), ev.cef);
  }

  // The rules the override wrote, through the fast paths and through evaluate(): the same values.
  auto files = siem::shipped_mapping_files(std::filesystem::path(work_dir()) / "shipped");
  files.push_back(override_path());
  siem::Diagnostics set_diags;
  const auto set = siem::mapping::MappingSet::load(files, set_diags);
  if (set_diags.has_errors()) violation("the mapping set failed to load where the mapper did not", set_diags.format());
  siem::testing::FastPathReport report;
  for (std::size_t i = 0; i < records().size(); ++i) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(records()[i]).get(root) != simdjson::SUCCESS) continue;
    siem::testing::check_fast_paths(set, set.for_kind(siem::detect_kind(root)), records()[i], i % 2 == 0, report);
    if (!report.disagreements.empty())
      violation("a fast path disagrees with evaluate()", report.disagreements.front() + "\noverride:\n" +
                std::string(reinterpret_cast<const char*>(data), size));
  }
  return 0;
}
