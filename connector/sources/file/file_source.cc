#include "connector/sources/file/file_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connector/core/record_reader.h"

namespace siem {

namespace {

constexpr std::size_t kFingerprintBytes = 256;

std::string fingerprint_of(const std::filesystem::path& path, std::uint64_t size) {
  if (size == 0) return {};
  std::ifstream in(path, std::ios::binary);
  std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(size, kFingerprintBytes)), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  // FNV-1a 64: cheap, stable, enough to tell two files apart at the same inode.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : head) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}:{}", h, head.size());
}

}  // namespace

FileSource::FileSource(std::string name, FileSourceOptions options) : name_(std::move(name)), options_(std::move(options)) {}

std::string FileSource::encode(const Position& p) {
  nlohmann::json j{{"dev", p.dev}, {"ino", p.ino}, {"fingerprint", p.fingerprint}, {"offset", p.offset}, {"line", p.line}};
  return j.dump();
}

FileSource::Position FileSource::decode(const std::string& token) {
  try {
    const auto j = nlohmann::json::parse(token);
    Position p;
    p.dev = j.at("dev").get<std::uint64_t>();
    p.ino = j.at("ino").get<std::uint64_t>();
    p.fingerprint = j.at("fingerprint").get<std::string>();
    p.offset = j.at("offset").get<std::uint64_t>();
    p.line = j.value("line", std::uint64_t{1});
    return p;
  } catch (const std::exception& e) {
    throw SourceError(fmt::format("checkpoint is not a file position: {}", e.what()));
  }
}

void FileSource::start(const std::optional<std::string>& checkpoint) {
  if (checkpoint) pos_ = decode(*checkpoint);
  std::error_code ec;
  if (!std::filesystem::exists(options_.path, ec))
    spdlog::warn("source {}: {} does not exist yet; waiting for it", name_, options_.path.string());
  reopen_if_changed();
}

// Compares the file on disk with the checkpointed identity: a new inode (rotation), a shorter
// file (truncation) or different first bytes (replaced in place) restart reading at offset 0.
bool FileSource::reopen_if_changed() {
  struct stat st {};
  if (::stat(options_.path.c_str(), &st) != 0) return false;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const auto dev = static_cast<std::uint64_t>(st.st_dev);
  const auto ino = static_cast<std::uint64_t>(st.st_ino);
  if (pos_.ino == 0 && pos_.offset == 0) {  // first run: nothing read yet
    pos_.dev = dev;
    pos_.ino = ino;
    pos_.fingerprint.clear();
    return true;
  }
  std::string reason;
  if (dev != pos_.dev || ino != pos_.ino) {
    reason = "was replaced (rotated)";
  } else if (size < pos_.offset) {
    reason = fmt::format("shrank from {} to {} bytes (truncated)", pos_.offset, size);
  } else if (!pos_.fingerprint.empty()) {
    const auto covered = std::stoull(pos_.fingerprint.substr(pos_.fingerprint.find(':') + 1));
    if (fingerprint_of(options_.path, covered) != pos_.fingerprint) reason = "was rewritten in place";
  }
  if (reason.empty()) return true;
  spdlog::warn("source {}: {} {}; reading it from the start", name_, options_.path.string(), reason);
  pos_ = Position{dev, ino, {}, 0, 1};
  return true;
}

SourceBatch FileSource::poll(std::stop_token stop) {
  SourceBatch batch;
  if (idle_last_poll_) {
    // Nothing new last time: wait a poll interval (woken early by stop).
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, stop, options_.poll_interval, [] { return false; });
    if (stop.stop_requested()) return batch;
  }
  if (!reopen_if_changed()) {
    idle_last_poll_ = true;
    batch.caught_up = true;
    return batch;
  }
  std::ifstream in(options_.path, std::ios::binary);
  if (!in) throw SourceError(fmt::format("cannot read {}", options_.path.string()));
  in.seekg(static_cast<std::streamoff>(pos_.offset));
  // Not zero-filled first (4 MiB of memset per poll was ~2 k instructions per record): only the
  // bytes read are looked at.
  const auto buffer = std::make_unique_for_overwrite<char[]>(options_.read_chunk);
  in.read(buffer.get(), static_cast<std::streamsize>(options_.read_chunk));
  const std::string_view chunk(buffer.get(), static_cast<std::size_t>(in.gcount()));
  const bool at_eof = chunk.size() < options_.read_chunk;
  // A UTF-16 file (read in chunks, whose lines the reader would each report): the source stops
  // with one error and reads nothing, so nothing is lost once it is converted.
  if (pos_.offset == 0)
    if (auto why = utf16_reason(chunk)) throw SourceError(fmt::format("{}: {}", options_.path.string(), *why));

  // "PATH:LINE", built in place (no temporary per record).
  const std::string path = options_.path.string();
  auto origin_of = [&path](std::string& out, std::size_t line) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, line).ptr;
    out.reserve(path.size() + 1 + static_cast<std::size_t>(end - digits));
    out.append(path).append(1, ':').append(digits, end);
  };
  // Under --once the end of the file is the end of the input: a last line without a newline that
  // is not a complete record is reported, not left waiting for a writer that will not come.
  const bool final_read = at_eof && once_;
  const std::size_t unterminated_tail =
      !chunk.empty() && chunk.back() != '\n' ? chunk.rfind('\n') + 1 : chunk.size();  // npos + 1 == 0
  // Whole documents only: a list document's records are committed together with its end.
  const std::size_t consumed = RecordReader::split(
      chunk,
      [&](const RecordSlice& r) {
        RawRecord& rec = batch.records.emplace_back();
        rec.json.assign(r.json);
        origin_of(rec.origin, r.line);
        rec.kind_hint = options_.kind_hint;
      },
      [&](const ReadError& e) {
        RawRecord rec;
        rec.json.assign(e.text);
        origin_of(rec.origin, e.line);
        rec.read_error = e.reason;
        if (final_read && static_cast<std::size_t>(e.text.data() - chunk.data()) >= unterminated_tail)
          rec.read_error +=
              " (the file's last line, which has no newline: run --once reads the file as it is)";
        batch.records.push_back(std::move(rec));
      },
      pos_.line,
      final_read ? RecordReader::Tail::complete
                 : at_eof ? RecordReader::Tail::growing_file : RecordReader::Tail::cut_chunk);
  if (consumed > 0) {
    pos_.line += count_newlines(std::string_view(chunk).substr(0, consumed));
    pos_.offset += consumed;
    // The fingerprint covers the first bytes read so far (up to kFingerprintBytes).
    pos_.fingerprint = fingerprint_of(options_.path, std::min<std::uint64_t>(pos_.offset, kFingerprintBytes));
    batch.checkpoint = encode(pos_);
  } else if (!at_eof && !chunk.empty()) {
    // A single document larger than the read chunk: read more next time.
    options_.read_chunk *= 2;
  }
  batch.caught_up = at_eof && batch.records.empty();
  idle_last_poll_ = batch.records.empty() && at_eof;
  return batch;
}

namespace {

const config::Section& file_source_keys() {
  using config::Type;
  static const config::Section s{"file", "sources[] with type: file", {}, {
      {"path", Type::path, "required", "*pinned.* one JSON record per line, a Graph/ARM list (`{\"value\":[...]}`) or an Event Hubs envelope (`{\"records\":[...]}`). The position is checkpointed, and a truncated or replaced file is read again from the start. An unterminated last line waits for its end; with `run --once` it is dead-lettered with its reason instead"},
      {"poll_interval", Type::duration, "1s", "how often to look for new data"},
      {"kind", Type::string, "detected per record", "forces the record kind, e.g. `graph_directory_audit`"},
  }};
  return s;
}

}  // namespace

void register_file_source(PluginRegistry& registry) {
  registry.add_source("file", "JSON records from a file (NDJSON, Graph/ARM lists, Event Hubs envelopes)",
                      [](const ConfigNode& cfg, const PluginContext& ctx) -> std::unique_ptr<Source> {
                        FileSourceOptions o;
                        if (auto p = cfg.file_path("path")) o.path = *p;
                        else cfg.error("missing required key 'path'");
                        o.poll_interval = cfg.duration("poll_interval", o.poll_interval);
                        if (auto kind = cfg.optional_string("kind")) {
                          if (auto k = source_kind_from_string(*kind)) o.kind_hint = *k;
                          else cfg.error_at("kind", fmt::format("unknown record kind '{}'", *kind));
                        }
                        return std::make_unique<FileSource>(ctx.name, std::move(o));
                      }, &file_source_keys());
}

}  // namespace siem
