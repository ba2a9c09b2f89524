// File helpers of the disk buffers, under the state directory's rules: no symlink is followed,
// descriptors are close-on-exec, directories are 0700 and files 0600.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>

namespace siem {
class StateFileOps;
}

namespace siem::buffer_files {

// A sink name usable as a directory name: [A-Za-z0-9._-], 1..128 characters, not "." or "..".
bool valid_name(std::string_view name);

// Opens `name` under the directory `parent_fd` (AT_FDCWD: `name` is a path), creating it 0700 when
// missing; a symlink or a non-directory is refused, group/other permissions are removed. Throws.
int open_dir(int parent_fd, const std::string& name);
// openat(dir_fd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600); a non-regular file is refused. -1 +
// errno on failure. `ops`: the system calls (tests inject failures), nullptr for the system's.
int open_file(int dir_fd, const std::string& name, int flags, StateFileOps* ops = nullptr);
void write_all(int fd, std::string_view data, const std::string& what, StateFileOps* ops = nullptr);
// Reads exactly `n` bytes at `offset`; false when the file is shorter.
bool pread_exact(int fd, void* buf, std::size_t n, std::uint64_t offset);
std::string errno_text();

// Logs a warning for every buffer under state_dir/buffers that belongs to none of `configured`
// (a sink removed, renamed or switched back to the memory buffer): its path, records-bearing bytes
// and what to do. Returns how many were found.
std::size_t report_stale(const std::filesystem::path& state_dir, const std::set<std::string>& configured);

}  // namespace siem::buffer_files
