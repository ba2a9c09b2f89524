#include "connector/sources/file/file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <condition_variable>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connector/core/record_reader.h"

namespace siem {

namespace {

constexpr std::size_t kFingerprintBytes = 256;

// "PATH:LINE", built in place (no temporary per record); "PATH:LINE#INDEX" for an element of a
// top-level JSON array (the index from 0, as for the elements of a Graph page).
void append_origin(std::string& out, std::string_view path, std::uint64_t line, std::size_t index = kNoElement) {
  char digits[48];
  auto end = std::to_chars(digits, digits + 24, line).ptr;
  if (index != kNoElement) {
    *end++ = '#';
    end = std::to_chars(end, digits + sizeof digits, index).ptr;
  }
  out.reserve(path.size() + 1 + static_cast<std::size_t>(end - digits));
  out.append(path).append(1, ':').append(digits, end);
}

constexpr std::string_view kOnceTail = "the file's last line, which has no newline: run --once reads the file as it is";

std::string oversize_reason(std::string_view origin, std::size_t limit, std::uint64_t size, bool once_tail,
                            std::size_t kept) {
  return fmt::format("record at {} exceeds max_record_bytes ({}): {} bytes{}; only its first {} bytes are kept here",
                     origin, limit, size, once_tail ? fmt::format(" ({})", kOnceTail) : std::string(), kept);
}

std::string not_regular(const std::filesystem::path& path) {
  return fmt::format("{} is not a regular file (a FIFO, device, socket or directory); the file source reads "
                     "regular files only",
                     path.string());
}

// The input is opened non-blocking (a FIFO put in its place must not block the source) and checked
// on the descriptor it is read through.
class InputFile {
 public:
  explicit InputFile(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)), path_(path) {
    if (fd_ < 0) throw SourceError(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw SourceError(not_regular(path));
    }
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() { ::close(fd_); }
  // Reads up to `size` bytes at `offset`; fewer only at the end of the file.
  std::size_t read_at(char* out, std::size_t size, std::uint64_t offset) const {
    std::size_t got = 0;
    while (got < size) {
      const ssize_t n = ::pread(fd_, out + got, size - got, static_cast<off_t>(offset + got));
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        throw SourceError(fmt::format("cannot read {}: {}", path_.string(), std::strerror(errno)));
      }
      got += static_cast<std::size_t>(n);
    }
    return got;
  }

 private:
  int fd_;
  const std::filesystem::path& path_;
};

std::string fingerprint_of(const std::filesystem::path& path, std::uint64_t size) {
  if (size == 0) return {};
  // Non-blocking and regular files only, like the input itself; unreadable: no fingerprint (the
  // file then counts as rewritten).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return {};
  struct stat st {};
  char head[kFingerprintBytes];
  ssize_t got = -1;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
    got = ::pread(fd, head, static_cast<std::size_t>(std::min<std::uint64_t>(size, kFingerprintBytes)), 0);
  ::close(fd);
  if (got < 0) return {};
  // FNV-1a 64: cheap, stable, enough to tell two files apart at the same inode.
  std::uint64_t h = 1469598103934665603ull;
  for (ssize_t i = 0; i < got; ++i) h = (h ^ static_cast<unsigned char>(head[i])) * 1099511628211ull;
  return fmt::format("{:016x}:{}", h, got);
}

// The bytes a fingerprint ("HASH:BYTES") covers; 0 for none or a malformed one (then it is
// computed again).
std::uint64_t fingerprint_covers(std::string_view fingerprint) noexcept {
  const auto colon = fingerprint.find(':');
  if (colon == std::string_view::npos) return 0;
  std::uint64_t covered = 0;
  const char* end = fingerprint.data() + fingerprint.size();
  const auto [ptr, ec] = std::from_chars(fingerprint.data() + colon + 1, end, covered);
  return ec == std::errc() && ptr == end ? covered : 0;
}

}  // namespace

FileSource::FileSource(std::string name, FileSourceOptions options)
    : name_(std::move(name)),
      options_(std::move(options)),
      blocks_(std::make_shared<ReadBlock::Budget>(options_.shared_blocks_bytes)) {}

std::string FileSource::encode(const Position& p) {
  nlohmann::json j{{"dev", p.dev}, {"ino", p.ino}, {"fingerprint", p.fingerprint}, {"offset", p.offset}, {"line", p.line}};
  if (p.array.inside)
    j["array"] = {{"next", p.array.next_index}, {"after_element", p.array.after_element}, {"line", p.array.open_line}};
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
    if (const auto a = j.find("array"); a != j.end()) {
      p.array.inside = true;
      p.array.next_index = a->at("next").get<std::size_t>();
      p.array.after_element = a->at("after_element").get<bool>();
      p.array.open_line = a->at("line").get<std::size_t>();
    }
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
  if (!S_ISREG(st.st_mode)) throw SourceError(not_regular(options_.path));
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
  } else if (const auto read_to = skip_ ? skip_->next : pos_.offset; size < read_to) {
    reason = fmt::format("shrank from {} to {} bytes (truncated)", read_to, size);
  } else if (!pos_.fingerprint.empty()) {
    const auto covered = std::stoull(pos_.fingerprint.substr(pos_.fingerprint.find(':') + 1));
    if (fingerprint_of(options_.path, covered) != pos_.fingerprint) reason = "was rewritten in place";
  }
  if (reason.empty()) return true;
  spdlog::warn("source {}: {} {}; reading it from the start", name_, options_.path.string(), reason);
  pos_ = Position{dev, ino, {}, 0, 1, {}};
  skip_.reset();
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
  const InputFile in(options_.path);
  const std::uint64_t from = skip_ ? skip_->next : pos_.offset;
  // Not zero-filled first (4 MiB of memset per poll was ~2 k instructions per record): only the
  // bytes read are looked at. The block is shared by the records split from it (views, no copy)
  // when the budget of blocks alive allows and the read filled at least half of it; otherwise each
  // record gets a copy of its own and the block is freed at the end of this poll.
  const bool may_share = options_.share_blocks && blocks_->allows(options_.read_chunk);
  auto block = std::make_shared<ReadBlock>(options_.read_chunk, may_share ? blocks_ : nullptr);
  const std::string_view chunk(block->data(), in.read_at(block->data(), options_.read_chunk, from));
  block->seal(chunk.size());
  const bool at_eof = chunk.size() < options_.read_chunk;
  std::shared_ptr<const ReadBlock> shared;
  if (may_share && chunk.size() >= options_.read_chunk / 2) shared = std::move(block);
  if (skip_) {
    skip_oversize(chunk, at_eof, batch);
    return batch;
  }
  // A UTF-16 file (read in chunks, whose lines the reader would each report): the source stops
  // with one error and reads nothing, so nothing is lost once it is converted.
  if (pos_.offset == 0)
    if (auto why = utf16_reason(chunk)) throw SourceError(fmt::format("{}: {}", options_.path.string(), *why));

  const std::string path = options_.path.string();
  // Under --once the end of the file is the end of the input: a last line without a newline that
  // is not a complete record is reported, not left waiting for a writer that will not come.
  const bool final_read = at_eof && once_;
  const std::size_t unterminated_tail =
      !chunk.empty() && chunk.back() != '\n' ? chunk.rfind('\n') + 1 : chunk.size();  // npos + 1 == 0
  // Whole documents only: a list document's records are committed together with its end. A
  // top-level JSON array is committed element by element (pos_.array says where in it).
  // A full read splits into about as many records as the last one; capped by this chunk's size, so
  // one read of tiny records does not make every later batch reserve room for as many.
  batch.records.reserve(std::min(last_records_, chunk.size() / 64 + 1));
  std::size_t end_line = pos_.line;       // the line at the end of what is consumed
  const std::size_t consumed = RecordReader::split(
      chunk,
      [&](const RecordSlice& r) {
        RawRecord& rec = batch.records.emplace_back();
        // A view into the shared block, or a copy with room for the parser to read it in place.
        if (shared) rec.json = RecordText(shared, r.json);
        else rec.json.assign(r.json);
        append_origin(rec.origin, path, r.line, r.index);
        rec.kind_hint = options_.kind_hint;
      },
      [&](const ReadError& e) {
        RawRecord rec;
        rec.json.assign(e.text);
        append_origin(rec.origin, path, e.line, e.index);
        const bool once_tail =
            final_read && static_cast<std::size_t>(e.text.data() - chunk.data()) >= unterminated_tail;
        if (e.oversize_bytes > 0) {
          rec.read_error =
              oversize_reason(rec.origin, options_.max_record_bytes, e.oversize_bytes, once_tail, rec.json.size());
        } else {
          rec.read_error = e.reason;
          if (once_tail) rec.read_error += fmt::format(" ({})", kOnceTail);
        }
        batch.records.push_back(std::move(rec));
      },
      pos_.line,
      final_read ? RecordReader::Tail::complete
                 : at_eof ? RecordReader::Tail::growing_file : RecordReader::Tail::cut_chunk,
      options_.max_record_bytes, &pos_.array, &end_line);
  if (consumed > 0) {
    pos_.line = end_line;
    pos_.offset += consumed;
    // The fingerprint covers the first bytes read so far (up to kFingerprintBytes). Once it covers
    // all of them it stays: reopen_if_changed() compared it with the file at the start of this poll.
    if (fingerprint_covers(pos_.fingerprint) < kFingerprintBytes)
      pos_.fingerprint = fingerprint_of(options_.path, std::min<std::uint64_t>(pos_.offset, kFingerprintBytes));
    batch.checkpoint = encode(pos_);
  } else if (!at_eof && !chunk.empty()) {
    // A single document larger than the read chunk. Over the limit: passed over to its end, in
    // pieces, without holding it; otherwise read with a larger buffer next time.
    if (chunk.size() > options_.max_record_bytes) {
      const OversizeSkip scan(chunk, options_.max_record_bytes, pos_.array.inside);
      skip_.emplace(Skip{scan, pos_.line, pos_.offset, std::string(scan.prefix(chunk))});
      skip_oversize(chunk, at_eof, batch);
      return batch;
    }
    options_.read_chunk = std::min(options_.read_chunk * 2, options_.max_record_bytes + 1);
  }
  batch.caught_up = at_eof && batch.records.empty();
  idle_last_poll_ = batch.records.empty() && at_eof;
  last_records_ = batch.records.size();
  return batch;
}

// Feeds the next piece of a document over the limit (read at skip_->next). At its end, or at the
// end of the file under --once, it becomes one dead letter and the position moves past it.
void FileSource::skip_oversize(std::string_view piece, bool at_eof, SourceBatch& batch) {
  const auto end = skip_->scan.feed(piece);
  skip_->next += end ? *end : piece.size();
  if (!end && !(at_eof && once_)) {  // more of it to come, now or once the writer adds it
    batch.caught_up = at_eof;
    idle_last_poll_ = at_eof;
    return;
  }
  RawRecord& rec = batch.records.emplace_back();
  rec.json = std::move(skip_->prefix);
  const bool element = skip_->scan.array_element();  // of a top-level array: read on after it
  append_origin(rec.origin, options_.path.string(), skip_->line, element ? pos_.array.next_index : kNoElement);
  const std::uint64_t size = skip_->scan.bytes() - (end && !element ? 1 : 0);  // without its newline
  if (element) {
    pos_.array.after_element = true;
    ++pos_.array.next_index;
  }
  rec.read_error = oversize_reason(rec.origin, options_.max_record_bytes, size, !end, rec.json.size());
  pos_.offset = skip_->next;
  pos_.line = skip_->line + skip_->scan.newlines();
  pos_.fingerprint = fingerprint_of(options_.path, std::min<std::uint64_t>(pos_.offset, kFingerprintBytes));
  batch.checkpoint = encode(pos_);
  skip_.reset();
  idle_last_poll_ = false;
}

namespace {

const config::Section& file_source_keys() {
  using config::Type;
  static const config::Section s{"file", "sources[] with type: file", {}, {
      {"path", Type::path, "required", "*pinned.* one JSON record per line, a Graph/ARM list (`{\"value\":[...]}`), an Event Hubs envelope (`{\"records\":[...]}`) or a top-level JSON array of records (`[{...},...]`: the Entra admin center's JSON download, `az monitor activity-log list`), read element by element at any size; each element is a record (origin `PATH:LINE#INDEX`), one that is not an object is dead-lettered naming its index. The position is checkpointed, and a truncated or replaced file is read again from the start. An unterminated last line waits for its end; with `run --once` it is dead-lettered with its reason instead. The path may be a symbolic link (log directories and Kubernetes volume mounts are links; the file is only read), but what it names must be a regular file: a FIFO, device, socket or directory stops the source with an error naming the path"},
      {"max_record_bytes", Type::size, "16MiB", "a longer line or document (a list document counts whole; in a top-level array, each element) goes to the dead-letter file (`record at PATH:LINE exceeds max_record_bytes (N): M bytes`, with only its first 4 KiB) and reading goes on after it; it is passed over in pieces, never held. Event Hubs messages are at most 1 MiB and a Graph page of 1000 records a few MiB, so 16 MiB leaves room. The read buffer is 2 MiB; it doubles while a longer document is read whole, up to this limit plus one byte, and keeps that size: it never exceeds the larger of 2 MiB and this limit plus one byte. Between 1KiB and 1GiB"},
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
                        o.max_record_bytes = cfg.bytes("max_record_bytes", o.max_record_bytes);
                        if (o.max_record_bytes < 1024 || o.max_record_bytes > (1u << 30))
                          cfg.error_at("max_record_bytes", "max_record_bytes must be between 1KiB and 1GiB");
                        if (auto kind = cfg.optional_string("kind")) {
                          if (auto k = source_kind_from_string(*kind)) o.kind_hint = *k;
                          else cfg.error_at("kind", fmt::format("unknown record kind '{}'", *kind));
                        }
                        return std::make_unique<FileSource>(ctx.name, std::move(o));
                      }, &file_source_keys());
}

}  // namespace siem
