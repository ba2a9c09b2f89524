// `siem-connector map`: maps records from files or stdin, one output line per record; a record that
// cannot be read or mapped is reported on stderr as FILE:LINE: reason and the exit status is 1.
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "connector/app/commands.h"
#include "connector/config/config_node.h"
#include "connector/core/record_reader.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"

namespace siem::app {

namespace {

std::shared_ptr<ConfigDocument> load_sections(const std::optional<std::string>& file, Diagnostics& diags) {
  if (file) return ConfigDocument::load_file(*file, diags);
  return ConfigDocument::load_string("{}", "<defaults>", diags);
}

}  // namespace

int map_command(const MapOptions& options, const GlobalOptions&) {
  Diagnostics diags;
  auto doc = load_sections(options.config_file, diags);
  std::optional<SourceKind> forced;
  if (options.source_kind) {
    forced = source_kind_from_string(*options.source_kind);
    if (!forced) {
      std::string kinds;
      for (auto k : all_source_kinds()) kinds += fmt::format("{}{}", kinds.empty() ? "" : ", ", to_string(k));
      std::cerr << fmt::format("siem-connector map: unknown --source '{}' (one of: {}, unknown)\n", *options.source_kind, kinds);
      return 2;
    }
  }
  std::unique_ptr<Mapper> mapper;
  if (!diags.has_errors()) {
    auto root = doc->root();
    mapper = make_mapping_stage(root, nullptr);
  }
  if (diags.has_errors() || !mapper) {
    std::cerr << diags.format();
    return 2;
  }
  const auto format = output_format_from_string(options.format).value_or(OutputFormat::ecs);
  const FormatSet formats = format_bit(format);

  std::vector<std::string> files = options.files;
  if (files.empty()) files.emplace_back("-");
  std::size_t failed = 0, mapped = 0;
  std::string out;
  MappedEvent ev;
  for (const auto& file : files) {
    std::string text;
    const std::string name = file == "-" ? "<stdin>" : file;
    if (file == "-") {
      std::stringstream ss;
      ss << std::cin.rdbuf();
      text = ss.str();
    } else {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::cerr << fmt::format("{}: cannot read: {}\n", file, std::strerror(errno));
        ++failed;
        continue;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    RecordReader::split(
        text,
        [&](const RecordSlice& slice) {
          RawRecord rec;
          rec.json.assign(slice.json);
          rec.origin = fmt::format("{}:{}", name, slice.line);
          if (auto err = mapper->map(rec, forced, formats, ev)) {
            std::cerr << fmt::format("{}: {}\n", rec.origin, *err);
            ++failed;
            return;
          }
          out += ev.payload(format);
          out += '\n';
          ++mapped;
          if (out.size() > (1u << 20)) {
            std::cout << out;
            out.clear();
          }
        },
        [&](const ReadError& e) {
          std::cerr << fmt::format("{}:{}: {}\n", name, e.line, e.reason);
          ++failed;
        });
  }
  std::cout << out << std::flush;
  return failed > 0 ? 1 : 0;
}

}  // namespace siem::app
