// `siem-connector map`: maps records from files or stdin, one output line per record; a record that
// cannot be read or mapped is reported on stderr as FILE:LINE: reason and the exit status is 1.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "connector/app/commands.h"
#include "connector/app/progress.h"
#include "connector/config/config_node.h"
#include "connector/core/one_line.h"
#include "connector/core/record_reader.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"

namespace siem::app {

namespace {

std::shared_ptr<ConfigDocument> load_sections(const std::optional<std::string>& file, Diagnostics& diags) {
  if (file) return ConfigDocument::load_file(*file, diags);
  return ConfigDocument::load_string("{}", "<defaults>", diags);
}

// The size of the regular input files (0 when one is stdin or not a regular file: no percentage).
std::uint64_t total_size(const std::vector<std::string>& files) {
  std::uint64_t total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    if (f == "-" || !std::filesystem::is_regular_file(f, ec)) return 0;
    total += std::filesystem::file_size(f, ec);
    if (ec) return 0;
  }
  return total;
}

}  // namespace

int map_command(const MapOptions& options, const GlobalOptions& global) {
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
  // Read by the progress display: records done, and bytes of the files before the current one
  // plus the offset in it.
  std::atomic<std::uint64_t> records{0}, done_bytes{0};
  const std::uint64_t total_bytes = total_size(files);
  ProgressReporter progress(
      "map",
      [&] {
        ProgressSample s;
        s.records = records.load(std::memory_order_relaxed);
        s.done_bytes = done_bytes.load(std::memory_order_relaxed);
        s.total_bytes = total_bytes;
        return s;
      },
      // The mapped lines on the same terminal would break the status line: a log line instead.
      ::isatty(STDOUT_FILENO) == 1 ? ProgressReporter::Mode::log : ProgressReporter::mode_for(global.log_format));
  std::uint64_t files_bytes = 0;
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
        write_stderr(fmt::format("{}: cannot read: {}\n", file, std::strerror(errno)));
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
          records.fetch_add(1, std::memory_order_relaxed);
          done_bytes.store(files_bytes + static_cast<std::uint64_t>(slice.json.data() - text.data()),
                           std::memory_order_relaxed);
          if (auto err = mapper->map(rec, forced, formats, ev)) {
            // FILE:LINE stays the prefix; an element of a top-level array (several may share a
            // line) is named by its index.
            const std::string element =
                slice.index == kNoElement ? std::string() : fmt::format("element {} of the JSON array: ", slice.index);
            write_stderr(fmt::format("{}: {}{}\n", rec.origin, element, *err));
            ++failed;
            return;
          }
          if (format == OutputFormat::raw) append_one_line(out, ev.payload(format));  // one record per line
          else out += ev.payload(format);
          out += '\n';
          ++mapped;
          if (out.size() > (1u << 20)) {
            std::cout << out;
            out.clear();
          }
        },
        [&](const ReadError& e) {
          write_stderr(fmt::format("{}:{}: {}\n", name, e.line, e.reason));
          ++failed;
        });
    files_bytes += text.size();
    done_bytes.store(files_bytes, std::memory_order_relaxed);
  }
  progress.stop();
  std::cout << out << std::flush;
  return failed > 0 ? 1 : 0;
}

}  // namespace siem::app
