// Fuzz target: arbitrary text as a YAML configuration -> ConfigDocument -> the typed ConfigNode
// getters every plugin uses (strings with ${VAR} expansion, integers with bounds, numbers,
// booleans, choices, durations, byte sizes, timestamps, lists, nested sections, free-form maps)
// -> the unknown-key report -> Diagnostics::format().
//
// Must hold for every input (a violation aborts, so libFuzzer saves the input as a crash):
//   - nothing throws: a bad document or value becomes a Diagnostic, never an exception;
//   - every diagnostic names the file and a message, and a line/column when it has one;
//   - no crash, hang, leak or undefined behaviour (ASan/UBSan).
// Secrets and existing_file() are left out on purpose: they read files the input would name.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "connector/config/config_node.h"

namespace {

[[noreturn]] void violation(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_config: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 4096)),
               detail.data());
  std::abort();
}

std::uint32_t hash(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

// Reads every key of a mapping with a getter chosen from the key's name, the way plugins read
// their settings, descending into nested sections and lists of sections.
void walk(const siem::ConfigNode& node, int depth) {
  if (!node.valid() || depth > 8) return;
  const YAML::Node y = node.yaml();
  if (!y.IsMap()) return;
  std::vector<std::string> keys;
  for (const auto& kv : y) {
    if (kv.first.IsScalar()) keys.push_back(kv.first.Scalar());
    if (keys.size() >= 64) break;
  }
  // A key nobody reads, for the unknown-key report.
  for (const auto& key : keys) {
    const std::uint32_t h = hash(key);
    switch (h % 14) {
      case 0: (void)node.string(key, "default"); break;
      case 1: (void)node.optional_string(key); break;
      case 2: (void)node.integer(key, 7, -1000, 1000); break;
      case 3: (void)node.number(key, 1.5); break;
      case 4: (void)node.boolean(key, true); break;
      case 5: (void)node.choice(key, {"ecs", "cef", "raw"}, "raw"); break;
      case 6: (void)node.duration(key, std::chrono::milliseconds(1000)); break;
      case 7: (void)node.bytes(key, 1024); break;
      case 8: (void)node.optional_timestamp(key); break;
      case 9: (void)node.string_list(key); break;
      case 10: (void)node.string_map(key); break;
      case 11: walk(node.child(key), depth + 1); break;
      case 12:
        for (const auto& item : node.list(key)) walk(item, depth + 1);
        break;
      default: break;  // left unread: reported as unknown (with a did-you-mean)
    }
  }
  (void)node.required_string("name");
  (void)node.file_path("path");
  (void)node.optional_duration("interval");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  siem::Diagnostics diags;
  try {
    auto doc = siem::ConfigDocument::load_string(text, "fuzz.yaml", diags, "/nonexistent-base");
    auto root = doc->root();
    walk(root, 0);
    for (const auto& section : {"sources", "sinks"})
      for (const auto& item : root.list(section)) walk(item, 1);
    doc->report_unknown_keys();
    (void)diags.format();
  } catch (const std::exception& e) {
    violation((std::string("exception escaped the config layer: ") + e.what()).c_str(), text);
  }
  for (const auto& d : diags.items()) {
    if (d.message.empty()) violation("diagnostic without a message", text);
    if (d.where.file != "fuzz.yaml") violation(("diagnostic names file '" + d.where.file + "'").c_str(), text);
    if (d.where.line < 0 || d.where.column < 0) violation("diagnostic with a negative line or column", text);
  }
  return 0;
}
