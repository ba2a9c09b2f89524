// Reading an operator's file (configuration, mapping, role table, secret) whole, bounded: never
// more than `max_bytes` (so /dev/zero is "too large", not all memory), and by default only a
// regular file (a FIFO or a device at the path is refused at once, never waited on). Symbolic links are followed on purpose: Kubernetes projects
// ConfigMaps and Secrets as links into a `..data` directory.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace siem {

// A configuration, mapping or role-table file is a few tens of KiB; this bound only stops a wrong
// path (a log, an image, /dev/zero) from being read into memory.
inline constexpr std::size_t kMaxConfigFileBytes = 4 * 1024 * 1024;

enum class ReadFileStatus { ok, cannot_open, not_regular, too_large, read_error };

struct ReadFileResult {
  ReadFileStatus status = ReadFileStatus::ok;
  int error = 0;             // errno when cannot_open or read_error
  unsigned mode = 0;         // the file's permission bits when it was opened
  std::string text;          // the whole file when status is ok
};

enum class FileKinds {
  regular_only,  // a FIFO or device at the path is refused at once (a secret, a mapping file)
  streams_too,   // also a FIFO or character device, waited on and read up to the bound: the
                 // configuration given on the command line, e.g. `-c <(envsubst <tpl.yaml)`
};

ReadFileResult read_regular_file(const std::filesystem::path& path, std::size_t max_bytes,
                                 FileKinds kinds = FileKinds::regular_only);

// The reason alone, for a message that names the file already: the errno text / "it is not a
// regular file" / "it is larger than N KiB".
std::string describe_read_reason(const ReadFileResult& result, std::size_t max_bytes);

// "cannot read P: <reason>" / "P is not a regular file" / "P is larger than N KiB", for error messages.
std::string describe_read_failure(const std::filesystem::path& path, const ReadFileResult& result,
                                  std::size_t max_bytes);

}  // namespace siem
