#include "consensus/raft_memory.hpp"

#include <cstring>

namespace lg::consensus::detail {

/// A buffer libraft may own and free: allocated with raft_malloc.
void* raft_copy(const std::string& bytes) {
  auto* p = raft_malloc(bytes.empty() ? 1 : bytes.size());
  if (p != nullptr && !bytes.empty())
    std::memcpy(p, bytes.data(), bytes.size());
  return p;
}

std::string to_bytes(const raft_buffer& b) {
  return std::string{static_cast<const char*>(b.base), b.len};
}

/// Fills a raft_configuration (its memory libraft's) from stored servers.
int fill_conf(raft_configuration& conf, const std::vector<stored_server>& in) {
  raft_configuration_init(&conf);
  for (auto& s : in)
    if (int rv = raft_configuration_add(&conf, s.id, s.address.c_str(),
                                        s.role))
      return rv;
  return 0;
}

std::vector<stored_server> servers_of(const raft_configuration& conf) {
  std::vector<stored_server> out;
  for (unsigned i = 0; i < conf.n; ++i)
    out.push_back({conf.servers[i].id, conf.servers[i].address,
                   conf.servers[i].role});
  return out;
}

/// `n` entries in one raft_malloc'ed array whose data lie in one batch, as
/// libraft wants what it is handed from disk or the network.
raft_entry* entry_batch(const std::vector<stored_entry>& in) {
  if (in.empty())
    return nullptr;
  size_t total = 0;
  for (auto& e : in)
    total += e.data.size();
  auto* entries = static_cast<raft_entry*>(
    raft_calloc(in.size(), sizeof(raft_entry)));
  auto* batch = static_cast<char*>(raft_malloc(total == 0 ? 1 : total));
  auto* cursor = batch;
  for (size_t i = 0; i < in.size(); ++i) {
    entries[i].term = in[i].term;
    entries[i].type = in[i].type;
    entries[i].buf.base = cursor;
    entries[i].buf.len = in[i].data.size();
    entries[i].batch = batch;
    if (!in[i].data.empty())
      std::memcpy(cursor, in[i].data.data(), in[i].data.size());
    cursor += in[i].data.size();
  }
  return entries;
}

raft_snapshot* snapshot_copy(const stored_snapshot& s) {
  auto* out = static_cast<raft_snapshot*>(raft_calloc(1, sizeof(raft_snapshot)));
  out->index = s.index;
  out->term = s.term;
  out->configuration_index = s.conf_index;
  fill_conf(out->configuration, s.conf);
  out->bufs = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
  out->bufs[0].base = raft_copy(s.data);
  out->bufs[0].len = s.data.size();
  out->n_bufs = 1;
  return out;
}

std::vector<uint64_t> voter_ids(const raft_configuration& c) {
  std::vector<uint64_t> out;
  for (unsigned i = 0; i < c.n; ++i)
    if (c.servers[i].role == RAFT_VOTER)
      out.push_back(c.servers[i].id);
  return out;
}

} // namespace lg::consensus::detail
