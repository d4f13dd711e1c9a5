#include <algorithm>
#include <set>

#include "storage/vfs.hpp"

namespace lg::storage {

namespace {

using file_map = std::map<std::string, std::shared_ptr<memory_vfs::file_state>>;
using dir_map = std::map<std::string, bool>;

std::string normalize(std::string path) {
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  return path;
}

/// Returns the directory holding `path`; empty for a bare relative name.
std::string parent_of(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos)
    return {};
  if (pos == 0)
    return "/";
  return path.substr(0, pos);
}

/// Returns the prefix shared by every path strictly below `dir`.
std::string child_prefix(const std::string& dir) {
  return dir.empty() || dir.back() == '/' ? dir : dir + "/";
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

template <class Map>
bool has_entry_below(const Map& entries, const std::string& dir) {
  auto prefix = child_prefix(dir);
  auto it = entries.lower_bound(prefix);
  return it != entries.end() && starts_with(it->first, prefix);
}

// Tests may create files through files() without make_dirs, so a directory
// also exists when something lives below it.
bool dir_exists(const file_map& files, const dir_map& dirs,
                const std::string& dir) {
  return dir.empty() || dir == "/" || dirs.count(dir) > 0
    || has_entry_below(files, dir) || has_entry_below(dirs, dir);
}

void add_dirs(dir_map& dirs, const std::string& dir) {
  for (auto d = dir; !d.empty() && d != "/"; d = parent_of(d))
    dirs[d] = true;
}

/// Moves every key equal to `from` or below it to the same place under `to`.
template <class Map>
void move_tree(Map& entries, const std::string& from, const std::string& to) {
  Map moved;
  auto prefix = child_prefix(from);
  if (auto it = entries.find(from); it != entries.end()) {
    moved.emplace(to, std::move(it->second));
    entries.erase(it);
  }
  auto it = entries.lower_bound(prefix);
  while (it != entries.end() && starts_with(it->first, prefix)) {
    moved.emplace(child_prefix(to) + it->first.substr(prefix.size()),
                  std::move(it->second));
    it = entries.erase(it);
  }
  for (auto& entry : moved)
    entries[entry.first] = std::move(entry.second);
}

template <class Map>
void erase_tree(Map& entries, const std::string& path) {
  entries.erase(path);
  auto prefix = child_prefix(path);
  auto it = entries.lower_bound(prefix);
  while (it != entries.end() && starts_with(it->first, prefix))
    it = entries.erase(it);
}

/// A file of the simulated file system; it keeps writing to the same file
/// state after a rename or removal, like a POSIX descriptor.
class memory_append_file : public append_file {
public:
  memory_append_file(const memory_vfs& fs, std::string path,
                     std::shared_ptr<memory_vfs::file_state> state)
    : fs_(fs), path_(std::move(path)), state_(std::move(state)) {
  }

  error append(std::string_view bytes) override {
    if (auto why = fs_.write_failure(path_); !why.empty())
      return make_error(errc::io_error, "write " + path_ + ": " + why);
    state_->data += bytes;
    return {};
  }

  error sync() override {
    if (auto why = fs_.write_failure(path_); !why.empty())
      return make_error(errc::io_error, "fsync " + path_ + ": " + why);
    state_->synced = state_->data.size();
    return {};
  }

  uint64_t size() const override {
    return state_->data.size();
  }

private:
  const memory_vfs& fs_;
  std::string path_;
  std::shared_ptr<memory_vfs::file_state> state_;
};

} // namespace

error memory_vfs::make_dirs(const std::string& dir) {
  auto path = normalize(dir);
  for (auto d = path; !d.empty() && d != "/"; d = parent_of(d))
    if (files_.count(d) > 0)
      return make_error(errc::io_error,
                        "create directories " + path + ": " + d + " is a file");
  add_dirs(dirs_, path);
  return {};
}

result<std::string> memory_vfs::read_file(const std::string& path) {
  auto it = files_.find(normalize(path));
  if (it == files_.end())
    return make_error(errc::not_found, "open " + path + ": no such file");
  return it->second->data;
}

result<std::unique_ptr<append_file>>
memory_vfs::open_append(const std::string& path) {
  auto name = normalize(path);
  if (!dir_exists(files_, dirs_, parent_of(name)))
    return make_error(errc::not_found,
                      "open " + path + ": parent directory missing");
  if (dir_exists(files_, dirs_, name))
    return make_error(errc::io_error, "open " + path + ": is a directory");
  auto& state = files_[name];
  if (!state)
    state = std::make_shared<file_state>();
  std::unique_ptr<append_file> file
    = std::make_unique<memory_append_file>(*this, name, state);
  return file;
}

namespace {

/// Reads a copy taken at open: later appends and truncations of the file
/// do not show, as a snapshot file is only ever replaced whole.
class memory_read_file : public readable_file {
public:
  explicit memory_read_file(std::string data) : data_(std::move(data)) {
  }

  uint64_t size() const override {
    return data_.size();
  }

  result<std::string> read_at(uint64_t offset, size_t n) override {
    if (offset >= data_.size())
      return std::string{};
    return data_.substr(static_cast<size_t>(offset), n);
  }

private:
  std::string data_;
};

} // namespace

result<std::unique_ptr<readable_file>>
memory_vfs::open_read(const std::string& path) {
  auto it = files_.find(normalize(path));
  if (it == files_.end())
    return make_error(errc::not_found, "open " + path + ": no such file");
  std::unique_ptr<readable_file> file
    = std::make_unique<memory_read_file>(it->second->data);
  return file;
}

error memory_vfs::write_atomic(const std::string& path,
                               const std::string& bytes) {
  auto name = normalize(path);
  if (!dir_exists(files_, dirs_, parent_of(name)))
    return make_error(errc::not_found,
                      "open " + path + ".tmp: parent directory missing");
  if (dir_exists(files_, dirs_, name))
    return make_error(errc::io_error, "rename to " + path + ": is a directory");
  if (auto why = write_failure(name); !why.empty())
    return make_error(errc::io_error, "write " + path + ".tmp: " + why);
  // A new state, as rename installs a new inode: open handles keep the old.
  auto state = std::make_shared<file_state>();
  state->data = bytes;
  state->synced = bytes.size();
  files_[name] = std::move(state);
  return {};
}

error memory_vfs::create_unsynced(
  const std::string& dir,
  const std::vector<std::pair<std::string, std::string>>& files) {
  auto path = normalize(dir);
  if (auto why = write_failure(path); !why.empty())
    return make_error(errc::io_error, "create " + path + ": " + why);
  if (auto err = make_dirs(path))
    return err;
  for (auto& [name, bytes] : files) {
    auto file = path + "/" + name;
    if (dir_exists(files_, dirs_, file))
      return make_error(errc::io_error, "create " + file + ": is a directory");
    // Nothing synced: a crash before sync_created() leaves the files empty (the
    // directory entries are kept, as this model keeps every entry).
    auto state = std::make_shared<file_state>();
    state->data = bytes;
    files_[file] = std::move(state);
  }
  return {};
}

error memory_vfs::sync_created(const std::vector<std::string>& dirs) {
  for (auto& dir : dirs) {
    auto root = normalize(dir);
    if (auto why = write_failure(root); !why.empty())
      return make_error(errc::io_error, "sync " + root + ": " + why);
    auto prefix = child_prefix(root);
    for (auto it = files_.lower_bound(prefix);
         it != files_.end() && starts_with(it->first, prefix); ++it)
      it->second->synced = it->second->data.size();
  }
  return {};
}

error memory_vfs::truncate(const std::string& path, uint64_t size) {
  auto it = files_.find(normalize(path));
  if (it == files_.end())
    return make_error(errc::not_found, "truncate " + path + ": no such file");
  // Like the disk implementation, a truncation is made durable at once.
  it->second->data.resize(size);
  it->second->synced = size;
  return {};
}

void memory_vfs::fail_writes(const std::string& prefix,
                             const std::string& why) {
  failing_[normalize(prefix)] = why;
}

void memory_vfs::clear_write_failures() {
  failing_.clear();
}

std::string memory_vfs::write_failure(const std::string& path) const {
  for (auto& [prefix, why] : failing_)
    if (starts_with(path, prefix))
      return why;
  return {};
}

error memory_vfs::rename(const std::string& from, const std::string& to) {
  if (auto why = write_failure(normalize(to)); !why.empty())
    return make_error(errc::io_error, "rename " + from + " to " + to + ": "
                                        + why);
  auto src = normalize(from);
  auto dst = normalize(to);
  auto what = "rename " + from + " to " + to + ": ";
  if (src == dst)
    return exists(src) ? error{}
                       : make_error(errc::not_found, what + "no such file");
  if (files_.count(src) > 0) {
    if (dir_exists(files_, dirs_, dst))
      return make_error(errc::io_error, what + "target is a directory");
    add_dirs(dirs_, parent_of(dst));
    auto state = std::move(files_[src]);
    files_.erase(src);
    files_[dst] = std::move(state);
    return {};
  }
  if (!dir_exists(files_, dirs_, src))
    return make_error(errc::not_found, what + "no such file or directory");
  if (starts_with(dst, child_prefix(src)))
    return make_error(errc::io_error, what + "target is inside the source");
  if (files_.count(dst) > 0)
    return make_error(errc::io_error, what + "target is a file");
  if (has_entry_below(files_, dst) || has_entry_below(dirs_, dst))
    return make_error(errc::io_error, what + "target directory not empty");
  move_tree(files_, src, dst);
  move_tree(dirs_, src, dst);
  add_dirs(dirs_, dst);
  return {};
}

error memory_vfs::remove_all(const std::string& path) {
  auto name = normalize(path);
  erase_tree(files_, name);
  erase_tree(dirs_, name);
  return {};
}

bool memory_vfs::exists(const std::string& path) {
  auto name = normalize(path);
  return files_.count(name) > 0
    || (!name.empty() && dir_exists(files_, dirs_, name));
}

result<std::vector<std::string>> memory_vfs::list_dir(const std::string& dir) {
  auto name = normalize(dir);
  if (files_.count(name) > 0)
    return make_error(errc::io_error, "list " + dir + ": not a directory");
  if (name.empty() || !dir_exists(files_, dirs_, name))
    return make_error(errc::not_found, "list " + dir + ": no such directory");
  std::set<std::string> children;
  auto prefix = child_prefix(name);
  auto collect = [&](const auto& entries) {
    auto it = entries.lower_bound(prefix);
    for (; it != entries.end() && starts_with(it->first, prefix); ++it) {
      auto rest = it->first.substr(prefix.size());
      children.insert(rest.substr(0, rest.find('/')));
    }
  };
  collect(files_);
  collect(dirs_);
  return std::vector<std::string>(children.begin(), children.end());
}

void memory_vfs::crash(const std::string& prefix, uint64_t keep_torn) {
  auto root = normalize(prefix);
  auto below = [&](const std::string& path) {
    return root.empty() || path == root
      || starts_with(path, child_prefix(root));
  };
  auto tail_of = [](const file_state& f) -> uint64_t {
    return f.data.size() > f.synced ? f.data.size() - f.synced : 0;
  };
  // The first file in path order wins a tie, so crashes are reproducible.
  file_state* torn = nullptr;
  for (auto& [path, state] : files_)
    if (below(path) && tail_of(*state) > 0
        && (!torn || tail_of(*state) > tail_of(*torn)))
      torn = state.get();
  for (auto& [path, state] : files_) {
    if (!below(path))
      continue;
    auto keep = std::min<uint64_t>(state->synced, state->data.size());
    if (state.get() == torn)
      keep += std::min(keep_torn, tail_of(*state));
    state->data.resize(keep);
    state->synced = keep;
  }
}

error memory_vfs::corrupt(const std::string& path, uint64_t offset) {
  auto it = files_.find(normalize(path));
  if (it == files_.end())
    return make_error(errc::not_found, "corrupt " + path + ": no such file");
  auto& data = it->second->data;
  if (offset >= data.size())
    return make_error(errc::io_error,
                      "corrupt " + path + ": offset " + std::to_string(offset)
                        + " beyond size " + std::to_string(data.size()));
  data[offset] = static_cast<char>(data[offset] ^ 0xFF);
  return {};
}

} // namespace lg::storage
