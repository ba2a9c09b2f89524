// Files at rest that hold audit records, checkpoints or the connector's lock: the state directory,
// the dead-letter file and file-sink outputs. None of them is ever opened through a symbolic link
// (a local user who can plant `LOCK -> /etc/shadow` must not get it truncated), and what the
// connector creates is private to its user unless the operator asks otherwise.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace siem::files {

// Creates `dir` (mode 0700; missing parents as `mkdir -p` would) unless it exists, opens it and
// checks it: a directory owned by this process's effective user, with no permission bits for group
// or others. Anything else throws std::runtime_error naming `what` (e.g. "state_dir") and the
// directory, and saying how to fix it. Returns an O_DIRECTORY descriptor (close-on-exec) that the
// caller owns: files inside are opened relative to it, so a directory swapped after the check is
// never used.
int open_private_dir(const std::filesystem::path& dir, std::string_view what);

struct AppendFile {
  int fd = -1;
  bool created = false;  // the file did not exist: it was created with the requested mode
  mode_t mode = 0;       // the file's permission bits after opening
};

// Opens `path` for appending without following a symbolic link in its last component, creating it
// (and missing parent directories) when needed with exactly `create_mode` (the umask does not
// narrow or widen what the operator configured). A path that is a symbolic link, or not a regular
// file, is refused. Throws std::runtime_error naming `what` and the path.
AppendFile open_append_nofollow(const std::filesystem::path& path, mode_t create_mode, std::string_view what);

// Ends a line a crash cut short: when the file open for appending on `fd` is not empty and does not
// end with a newline (what a process killed in the middle of a write() leaves: the kernel stops
// copying at the pending SIGKILL), appends one, so that the next line written is not glued to the
// fragment (a line no reader could parse). Returns whether it did. Best effort: a file this user
// cannot read back is left as it is.
bool end_torn_line(int fd);

// 16 lowercase hex digits from the kernel's random source, for names nobody can predict.
std::string random_suffix();

// An octal permission mode as written in a config ("0600", "640", "0o640"): at most 0777, no
// set-id or sticky bits. nullopt when malformed.
std::optional<mode_t> parse_file_mode(std::string_view text);

// "0640".
std::string format_mode(mode_t mode);

}  // namespace siem::files
