// What raft_member hands libraft and takes from it: buffers, entries,
// snapshots and configurations in libraft's own memory (raft_malloc), so
// that libraft may keep or free them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include <raft.h>
}

#include "consensus/raft_store.hpp"

namespace lg::consensus::detail {

/// A buffer libraft may own and free: allocated with raft_malloc.
void* raft_copy(const std::string& bytes);

std::string to_bytes(const raft_buffer& b);

/// Fills a raft_configuration (its memory libraft's) from stored servers.
int fill_conf(raft_configuration& conf, const std::vector<stored_server>& in);

std::vector<stored_server> servers_of(const raft_configuration& conf);

/// The ids of the voters of `c`.
std::vector<uint64_t> voter_ids(const raft_configuration& c);

/// `n` entries in one raft_malloc'ed array whose data lie in one batch, as
/// libraft wants what it is handed from disk or the network.
raft_entry* entry_batch(const std::vector<stored_entry>& in);

raft_snapshot* snapshot_copy(const stored_snapshot& s);

} // namespace lg::consensus::detail
