#pragma once
// Writing files so that an interruption never leaves half a file and a planted symbolic
// link never redirects a write: temporaries are opened with O_NOFOLLOW (a link in their
// place is refused, not followed), synced (failures reported), then renamed into place.
#include <string>

namespace dlm {

// Opens `path` for writing as a new temporary: O_CREAT | O_TRUNC | O_NOFOLLOW (| O_APPEND
// when `append`). Throws Error naming the path when it is a symbolic link or cannot be opened.
int open_temporary(const std::string& path, bool append = false);

// Writes all of `data` to `fd` (retrying short writes and EINTR) and fdatasyncs it;
// throws Error naming `path` on any failure (a full disk, an I/O error).
void write_all_synced(int fd, const std::string& data, const std::string& path);

// `path` becomes `data` at once: written to path.tmp (see open_temporary), synced, renamed.
void write_atomically(const std::string& path, const std::string& data);

}  // namespace dlm
