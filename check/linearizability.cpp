#include "check/linearizability.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace lg::check {

namespace {

using clock_type = std::chrono::steady_clock;

/// Completion time of an operation that may take effect at any later time.
constexpr int64_t never = std::numeric_limits<int64_t>::max();
/// Value id of the absent state.
constexpr int32_t absent = 0;

/// One operation of a key's history, with its values interned.
struct key_op {
  size_t index = 0; ///< into the caller's history
  op_kind kind = op_kind::get;
  int32_t value = absent; ///< put: written; get: read; del: absent
  int64_t invoked = 0;
  int64_t completed = 0; ///< `never` for an unknown write
};

/// The operations of one key, and the names of its value ids.
struct key_history {
  std::string key;
  std::vector<key_op> ops;
  std::vector<std::optional<std::string>> names{std::nullopt}; ///< id 0: absent
  std::unordered_map<std::string, int32_t> ids;

  /// Returns the id of `value`, adding it when new.
  int32_t intern(const std::optional<std::string>& value) {
    if (!value)
      return absent;
    auto [it, added] = ids.try_emplace(*value, static_cast<int32_t>(names.size()));
    if (added)
      names.push_back(*value);
    return it->second;
  }
};

enum class search_result { linearizable, not_linearizable, budget_exceeded };

/// The time and memory one check_history() call may spend.
class budget {
 public:
  budget(clock_type::time_point deadline, size_t memory_limit)
    : deadline_(deadline), memory_limit_(memory_limit) {}

  /// True once the deadline has passed (sticky).
  bool expired() {
    if (!expired_ && clock_type::now() >= deadline_)
      expired_ = true;
    return expired_;
  }

  /// Records that a search needs `bytes` of cache; true when over the limit
  /// (which then also expires the budget).
  bool over_memory(size_t bytes) {
    if (bytes > memory_limit_)
      expired_ = true;
    return expired_;
  }

 private:
  clock_type::time_point deadline_;
  size_t memory_limit_;
  bool expired_ = false;
};

/// Mixes the bits of `x` (splitmix64's finaliser).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// The set of linearized operations of a search, kept compact. Operations
/// that must be linearized are numbered by invocation, so that the set is all
/// of them up to a frontier, then a few bits for those running across it; the
/// unknown writes have bits of their own. A configuration stores the words
/// from the first one not full to the last one not empty, then the unknown
/// writes' words: a few words where the whole bitset would take n / 64.
class op_set {
 public:
  op_set(size_t required, size_t unknown)
    : req_((required + 63) / 64, 0), unk_((unknown + 63) / 64, 0),
      last_full_(required % 64 == 0 ? ~uint64_t{0}
                                    : (uint64_t{1} << (required % 64)) - 1) {
    advance_low();
  }

  /// Adds or removes required operation `bit`.
  void flip_required(size_t bit) {
    const size_t w = bit / 64;
    req_[w] ^= uint64_t{1} << (bit % 64);
    if ((req_[w] >> (bit % 64)) & 1) {
      high_ = std::max(high_, static_cast<ptrdiff_t>(w));
      advance_low();
    } else {
      low_ = std::min(low_, w);
      while (high_ >= 0 && req_[static_cast<size_t>(high_)] == 0)
        --high_;
    }
  }

  /// Adds or removes unknown write `bit`.
  void flip_unknown(size_t bit) { unk_[bit / 64] ^= uint64_t{1} << (bit % 64); }

  /// True when required operation `bit` is in the set.
  bool has_required(size_t bit) const {
    return (req_[bit / 64] >> (bit % 64)) & 1;
  }

  /// True when unknown write `bit` is in the set.
  bool has_unknown(size_t bit) const { return (unk_[bit / 64] >> (bit % 64)) & 1; }

  /// The first required word that is not full.
  size_t low() const { return low_; }

  /// How many required words from low() to the last non-empty one.
  size_t span() const {
    return high_ < static_cast<ptrdiff_t>(low_)
             ? 0
             : static_cast<size_t>(high_) - low_ + 1;
  }

  const uint64_t* required_words() const { return req_.data() + low_; }
  const std::vector<uint64_t>& unknown_words() const { return unk_; }

 private:
  /// Moves low_ past full words.
  void advance_low() {
    while (low_ < req_.size()
           && req_[low_] == (low_ + 1 == req_.size() ? last_full_ : ~uint64_t{0}))
      ++low_;
  }

  std::vector<uint64_t> req_, unk_;
  uint64_t last_full_; ///< the last required word when full
  size_t low_ = 0;
  ptrdiff_t high_ = -1; ///< the last non-empty required word, -1: none
};

/// The set of configurations (linearized operations, register state) the
/// search has reached: Lowe's memoisation. Open addressing over a flat arena
/// of compact op_sets; the set's hash is maintained incrementally by the
/// caller (Zobrist hashing), so an insert costs one probe sequence and a
/// compare of a few words.
class config_cache {
 public:
  config_cache() : table_(1024, 0) {}

  /// Adds (set, state) unless present; returns true when it was added.
  bool insert(const op_set& set, int32_t state, uint64_t set_hash) {
    const uint64_t h = set_hash ^ mix(static_cast<uint64_t>(state) + 1);
    const size_t span = set.span();
    const auto& unk = set.unknown_words();
    const size_t mask = table_.size() - 1;
    for (size_t slot = h & mask;; slot = (slot + 1) & mask) {
      uint32_t e = table_[slot];
      if (e == 0) {
        entries_.push_back({h, words_.size(), set.low(), span, state});
        words_.insert(words_.end(), set.required_words(),
                      set.required_words() + span);
        words_.insert(words_.end(), unk.begin(), unk.end());
        table_[slot] = static_cast<uint32_t>(entries_.size());
        if (entries_.size() * 2 > table_.size())
          grow();
        return true;
      }
      const entry& x = entries_[e - 1];
      if (x.hash == h && x.state == state && x.low == set.low()
          && x.span == span
          && std::equal(set.required_words(), set.required_words() + span,
                        words_.begin() + static_cast<ptrdiff_t>(x.offset))
          && std::equal(unk.begin(), unk.end(),
                        words_.begin()
                          + static_cast<ptrdiff_t>(x.offset + span)))
        return false;
    }
  }

  /// Bytes held, for the memory limit.
  size_t bytes() const {
    return words_.capacity() * sizeof(uint64_t)
           + entries_.capacity() * sizeof(entry)
           + table_.capacity() * sizeof(uint32_t);
  }

 private:
  struct entry {
    uint64_t hash;
    size_t offset; ///< of its words in words_
    size_t low;
    size_t span;
    int32_t state;
  };

  /// Doubles the table and reinserts every entry.
  void grow() {
    std::vector<uint32_t> table(table_.size() * 2, 0);
    const size_t mask = table.size() - 1;
    for (size_t e = 0; e < entries_.size(); ++e) {
      size_t slot = entries_[e].hash & mask;
      while (table[slot] != 0)
        slot = (slot + 1) & mask;
      table[slot] = static_cast<uint32_t>(e + 1);
    }
    table_ = std::move(table);
  }

  std::vector<entry> entries_;
  std::vector<uint64_t> words_;
  std::vector<uint32_t> table_; ///< entry + 1; 0 is empty
};

/// Searches for a linearization of `ops` (one key) with the WGL algorithm.
/// The register starts absent; `value_count` bounds the value ids.
search_result search(const std::vector<key_op>& ops, size_t value_count,
                     budget& b) {
  const size_t n = ops.size();
  if (n == 0)
    return search_result::linearizable;
  if (b.expired())
    return search_result::budget_exceeded;

  // Call and return events by time, calls first at equal times.
  struct event {
    int64_t time;
    bool is_return;
    uint32_t op;
  };
  std::vector<event> events;
  events.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    events.push_back({ops[i].invoked, false, static_cast<uint32_t>(i)});
    events.push_back({ops[i].completed, true, static_cast<uint32_t>(i)});
  }
  std::sort(events.begin(), events.end(), [](const event& x, const event& y) {
    if (x.time != y.time)
      return x.time < y.time;
    if (x.is_return != y.is_return)
      return !x.is_return;
    return x.op < y.op;
  });

  // The doubly linked list of events; node 2n is the head sentinel. A call
  // node's match is its return node; a return node's match is -1.
  const int32_t count = static_cast<int32_t>(2 * n);
  const int32_t head = count;
  std::vector<int32_t> next(count + 1), prev(count + 1), match(count, -1),
    op_of(count), return_node(n);
  for (int32_t k = 0; k < count; ++k) {
    op_of[k] = static_cast<int32_t>(events[k].op);
    if (events[k].is_return)
      return_node[events[k].op] = k;
  }
  for (int32_t k = 0; k < count; ++k) {
    if (!events[k].is_return)
      match[k] = return_node[events[k].op];
    next[k] = k + 1 < count ? k + 1 : -1;
    prev[k] = k == 0 ? head : k - 1;
  }
  next[head] = 0;
  prev[head] = -1;

  auto lift = [&](int32_t e) {
    next[prev[e]] = next[e];
    prev[next[e]] = prev[e]; // a call is always followed by its return
    int32_t m = match[e];
    next[prev[m]] = next[m];
    if (next[m] != -1)
      prev[next[m]] = prev[m];
  };
  auto unlift = [&](int32_t e) {
    int32_t m = match[e];
    next[prev[m]] = m;
    if (next[m] != -1)
      prev[next[m]] = m;
    next[prev[e]] = e;
    prev[next[e]] = e;
  };

  // The register's rules.
  int32_t state = absent;
  auto step = [&](int32_t from, const key_op& op, int32_t& to) {
    switch (op.kind) {
      case op_kind::put:
        to = op.value;
        return true;
      case op_kind::del:
        to = absent;
        return true;
      case op_kind::get:
        to = from;
        return from == op.value;
    }
    return false;
  };

  // Unknown writes (completion `never`) are never linearized on their own,
  // only right before a get that reads their value when the register holds
  // something else; see step 4 in the header. Per value, its unknown writers.
  std::vector<std::vector<uint32_t>> writers(value_count);
  std::vector<int32_t> call_node(n);
  for (int32_t k = 0; k < count; ++k)
    if (match[k] != -1)
      call_node[op_of[k]] = k;
  // Bits: required operations by invocation (call events are in that
  // order), unknown writes apart.
  std::vector<uint32_t> bit_of(n);
  size_t required = 0, unknown = 0; // `required`: still to linearize
  for (int32_t k = 0; k < count; ++k) {
    if (match[k] == -1)
      continue;
    const size_t i = static_cast<size_t>(op_of[k]);
    if (ops[i].completed != never) {
      bit_of[i] = static_cast<uint32_t>(required++);
    } else {
      bit_of[i] = static_cast<uint32_t>(unknown++);
      if (ops[i].kind != op_kind::get)
        writers[ops[i].value].push_back(static_cast<uint32_t>(i));
    }
  }
  std::vector<uint64_t> zobrist(n);
  for (size_t i = 0; i < n; ++i)
    zobrist[i] = mix(i * 0x2545f4914f6cdd1dULL + 1);
  op_set linearized(required, unknown);
  uint64_t hash = 0;
  config_cache cache;
  auto is_set = [&](size_t op) {
    return ops[op].completed == never ? linearized.has_unknown(bit_of[op])
                                      : linearized.has_required(bit_of[op]);
  };
  auto flip = [&](size_t op) {
    if (ops[op].completed == never)
      linearized.flip_unknown(bit_of[op]);
    else
      linearized.flip_required(bit_of[op]);
    hash ^= zobrist[op];
  };

  // Per value, every write of it. A configuration is stuck when a get that
  // may be linearized now reads a value the register does not hold and no
  // write of that value is left that is invoked before the get returns: no
  // completion exists, and without this check the search would only find
  // out at the get's return, after trying every order of the operations
  // running meanwhile.
  std::vector<std::vector<uint32_t>> all_writers(value_count);
  for (size_t i = 0; i < n; ++i)
    if (ops[i].kind != op_kind::get)
      all_writers[ops[i].value].push_back(static_cast<uint32_t>(i));
  auto stuck = [&] {
    for (int32_t k = next[head]; k != -1 && match[k] != -1; k = next[k]) {
      const key_op& g = ops[static_cast<size_t>(op_of[k])];
      if (g.kind != op_kind::get || g.value == state)
        continue;
      const auto& ws = all_writers[g.value];
      if (ws.size() > 16)
        continue; // a common value: not worth the scan
      bool possible = false;
      for (uint32_t w : ws)
        if (!is_set(w) && call_node[w] < match[k]) {
          possible = true;
          break;
        }
      if (!possible)
        return true;
    }
    return false;
  };

  struct frame {
    int32_t node;    ///< call node of the operation linearized
    int32_t state;   ///< register state before it
    int32_t partner; ///< call node of the unknown write paired with it, or -1
    uint32_t tried;  ///< index of the partner in writers[value]
    bool forced;     ///< a get taken as soon as enabled: no alternative
  };
  std::vector<frame> calls;
  calls.reserve(n);

  uint32_t steps = 0;
  int32_t e = next[head];
  size_t partner_from = 0; // the next writers[] candidate to try at e
  bool dead_end = false;   // the current configuration cannot be completed
  while (required > 0) {
    if ((++steps & 0xfff) == 0
        && (b.expired() || b.over_memory(cache.bytes())))
      return search_result::budget_exceeded;
    if (dead_end || match[e] == -1) {
      // A return whose call is not linearized, or a dead end: undo the last
      // choice (and the forced ones before it, which had no alternative).
      dead_end = false;
      frame top;
      do {
        if (calls.empty())
          return search_result::not_linearizable;
        top = calls.back();
        calls.pop_back();
        state = top.state;
        flip(static_cast<size_t>(op_of[top.node]));
        unlift(top.node);
        ++required;
        if (top.partner != -1) {
          flip(static_cast<size_t>(op_of[top.partner]));
          unlift(top.partner);
        }
      } while (top.forced);
      if (top.partner != -1) {
        e = top.node; // the same get with its next possible partner
        partner_from = top.tried + 1;
      } else {
        e = next[top.node];
        partner_from = 0;
      }
      continue;
    }
    // A call: try to linearize its operation now.
    const size_t op = static_cast<size_t>(op_of[e]);
    const key_op& o = ops[op];
    if (o.completed == never) {
      e = next[e];
      partner_from = 0;
      continue;
    }
    // A get that the register allows now is taken at once and for good:
    // any completion that takes it later also works with it taken now (it
    // changes no state, and whatever precedes it is linearized already). So
    // when that fails, or was seen failing before, so does this
    // configuration.
    int32_t to = 0;
    if (step(state, o, to)) {
      const bool forced = o.kind == op_kind::get;
      flip(op);
      if (cache.insert(linearized, to, hash)) {
        calls.push_back({e, state, -1, 0, forced});
        state = to;
        lift(e);
        --required;
        e = next[head];
        dead_end = !forced && stuck();
      } else {
        flip(op);
        if (forced)
          dead_end = true;
        else
          e = next[e];
      }
      partner_from = 0;
      continue;
    }
    if (o.kind == op_kind::get && partner_from < writers[o.value].size()) {
      // Pair the get with an unknown write of its value whose call comes
      // before the first pending return (so both may take effect now).
      int32_t first_return = e;
      while (match[first_return] != -1)
        first_return = next[first_return];
      const auto& candidates = writers[o.value];
      bool added = false;
      for (size_t i = partner_from; i < candidates.size() && !added; ++i) {
        const size_t u = candidates[i];
        if (is_set(u) || call_node[u] > first_return)
          continue;
        flip(u);
        flip(op);
        if (cache.insert(linearized, o.value, hash)) {
          calls.push_back(
            {e, state, call_node[u], static_cast<uint32_t>(i), false});
          state = o.value;
          lift(call_node[u]);
          lift(e);
          --required;
          added = true;
        } else {
          flip(op);
          flip(u);
        }
      }
      partner_from = 0;
      e = added ? next[head] : next[e];
      dead_end = added && stuck();
      continue;
    }
    partner_from = 0;
    e = next[e];
  }
  return search_result::linearizable;
}

/// The prefix of a key's history at time `t`: operations completed by `t`,
/// writes still running at `t` as unknown, running gets dropped.
std::vector<key_op> prefix_at(const std::vector<key_op>& ops, int64_t t) {
  std::vector<key_op> out;
  for (const key_op& op : ops) {
    if (op.completed <= t) {
      out.push_back(op);
    } else if (op.invoked <= t && op.kind != op_kind::get) {
      out.push_back(op);
      out.back().completed = never;
    }
  }
  return out;
}

/// The window of `ops` that starts at `s`: every operation completing at or
/// after m, where m <= s is the largest time at or before the invocation of
/// every such operation; every unknown write; and the writes completed before
/// m that no other of them precedes in real time. See the header.
std::vector<key_op> cut_at(const std::vector<key_op>& ops, int64_t s) {
  int64_t m = s;
  for (;;) {
    int64_t lowest = m;
    for (const key_op& op : ops)
      if (op.completed != never && op.completed >= m)
        lowest = std::min(lowest, op.invoked);
    if (lowest == m)
      break;
    m = lowest;
  }
  // A dropped write precedes another when it completes before the other's
  // invocation: the last one is among those completing at or after the
  // latest invocation of a dropped write.
  int64_t last_write_invoked = std::numeric_limits<int64_t>::min();
  for (const key_op& op : ops)
    if (op.completed < m && op.kind != op_kind::get)
      last_write_invoked = std::max(last_write_invoked, op.invoked);
  std::vector<key_op> w;
  for (const key_op& op : ops)
    if (op.completed >= m
        || (op.kind != op_kind::get && op.completed >= last_write_invoked))
      w.push_back(op);
  return w;
}

/// Sorted distinct finite completion times of `ops`.
std::vector<int64_t> completion_times(const std::vector<key_op>& ops) {
  std::vector<int64_t> times;
  for (const key_op& op : ops)
    if (op.completed != never)
      times.push_back(op.completed);
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  return times;
}

/// Quotes `s` for a description: escapes quotes, backslashes and bytes
/// outside printable ASCII.
std::string quote(const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

/// A register state for a description: a quoted value or `absent`.
std::string state_name(const std::optional<std::string>& v) {
  return v ? quote(*v) : "absent";
}

/// Shrinks the failing `kh` to a window (see the header) and fills `kv`.
void find_window(const key_history& kh, budget& b, key_verdict& kv) {
  const size_t values = kh.names.size();
  const std::vector<int64_t> times = completion_times(kh.ops);
  std::vector<key_op> prefix = kh.ops;
  std::optional<int64_t> end;
  bool truncated = false;

  // The earliest completion time whose prefix fails. The prefix at the last
  // completion differs from the whole history only by unknown writes invoked
  // after everything completed, which can always go last: it fails.
  if (!times.empty()) {
    int64_t hi = static_cast<int64_t>(times.size()) - 1;
    int64_t lo = -1; // the prefix at times[lo] passes (-1: the empty one)
    while (hi - lo > 1) {
      int64_t mid = lo + (hi - lo) / 2;
      auto r = search(prefix_at(kh.ops, times[mid]), values, b);
      if (r == search_result::budget_exceeded) {
        truncated = true;
        break;
      }
      if (r == search_result::not_linearizable)
        hi = mid;
      else
        lo = mid;
    }
    prefix = prefix_at(kh.ops, times[hi]);
    if (!truncated)
      end = times[hi];
  }

  // The latest start whose window still fails.
  std::vector<key_op> best = prefix;
  if (!truncated) {
    const std::vector<int64_t> starts = completion_times(prefix);
    size_t lo = 0, hi = starts.size(); // cut at starts[lo] fails; hi: unknown
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      std::vector<key_op> w = cut_at(prefix, starts[mid]);
      auto r = search(w, values, b);
      if (r == search_result::budget_exceeded) {
        truncated = true;
        break;
      }
      if (r == search_result::not_linearizable) {
        lo = mid;
        best = std::move(w);
      } else {
        hi = mid;
      }
    }
  }

  // An unknown write whose value no get of the window reads can be taken as
  // never applied (see step 4 in the header): it only clutters the window.
  std::vector<char> read(values, 0);
  for (const key_op& op : best)
    if (op.kind == op_kind::get)
      read[op.value] = 1;
  best.erase(std::remove_if(best.begin(), best.end(),
                            [&](const key_op& op) {
                              return op.completed == never && !read[op.value];
                            }),
             best.end());
  std::sort(best.begin(), best.end(),
            [](const key_op& x, const key_op& y) {
              return x.invoked != y.invoked ? x.invoked < y.invoked
                                            : x.index < y.index;
            });
  kv.window.clear();
  for (const key_op& op : best)
    kv.window.push_back(op.index);
  kv.window_truncated = truncated;

  std::ostringstream text;
  const key_op* culprit = nullptr;
  if (end)
    for (const key_op& op : best)
      if (op.completed == *end && (!culprit || op.kind == op_kind::get))
        culprit = &op;
  if (culprit) {
    kv.culprit = culprit->index;
    text << "#" << culprit->index << " cannot be linearized: the key's "
         << "history up to just before it completes at t=" << *end
         << " can be, but with it ";
  } else {
    text << "the budget ran out before the window was shrunk: ";
  }
  text << "no order of the window's " << best.size() << " operation"
       << (best.size() == 1 ? "" : "s") << " that respects real time";
  text << " lets every get read what the register holds";
  kv.explanation = text.str();
}

} // namespace

verdict check_history(const std::vector<operation>& history,
                      const check_options& options) {
  const auto started = clock_type::now();
  budget b(started + options.budget, options.memory_limit);
  verdict v;

  // Partition by key, in order of first appearance; drop what tells nothing.
  std::vector<key_history> keys;
  std::unordered_map<std::string, size_t> key_index;
  for (size_t i = 0; i < history.size(); ++i) {
    const operation& op = history[i];
    if (op.kind == op_kind::put && !op.value)
      throw std::invalid_argument("operation #" + std::to_string(i)
                                  + ": a put without a value");
    if (op.result == outcome::ok
        && (op.completed < op.invoked || op.completed == never))
      throw std::invalid_argument("operation #" + std::to_string(i)
                                  + ": completed before it was invoked"
                                    " or at INT64_MAX");
    if (op.result == outcome::failed
        || (op.result == outcome::unknown && op.kind == op_kind::get))
      continue;
    auto [it, added] = key_index.try_emplace(op.key, keys.size());
    if (added) {
      keys.emplace_back();
      keys.back().key = op.key;
    }
    key_history& kh = keys[it->second];
    key_op kop;
    kop.index = i;
    kop.kind = op.kind;
    kop.value = op.kind == op_kind::del ? absent : kh.intern(op.value);
    kop.invoked = op.invoked;
    kop.completed = op.result == outcome::unknown ? never : op.completed;
    kh.ops.push_back(kop);
  }
  v.keys = keys.size();

  std::vector<size_t> failing;
  for (size_t k = 0; k < keys.size(); ++k) {
    auto r = search(keys[k].ops, keys[k].names.size(), b);
    if (r == search_result::budget_exceeded) {
      for (size_t rest = k; rest < keys.size(); ++rest)
        v.unchecked_keys.push_back(keys[rest].key);
      break;
    }
    ++v.keys_checked;
    v.operations_checked += keys[k].ops.size();
    if (r == search_result::not_linearizable)
      failing.push_back(k);
  }

  for (size_t k : failing) {
    key_verdict kv;
    kv.key = keys[k].key;
    kv.operations = keys[k].ops.size();
    find_window(keys[k], b, kv);
    v.failures.push_back(std::move(kv));
  }

  if (!v.failures.empty())
    v.result = verdict_kind::not_linearizable;
  else if (!v.unchecked_keys.empty())
    v.result = verdict_kind::budget_exceeded;
  v.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
    clock_type::now() - started);
  return v;
}

verdict check_history(const std::vector<operation>& history,
                      std::chrono::milliseconds budget) {
  check_options options;
  options.budget = budget;
  return check_history(history, options);
}

std::ostream& operator<<(std::ostream& out, verdict_kind kind) {
  switch (kind) {
    case verdict_kind::linearizable:
      return out << "linearizable";
    case verdict_kind::not_linearizable:
      return out << "not linearizable";
    case verdict_kind::budget_exceeded:
      return out << "unknown (budget exceeded)";
  }
  return out;
}

std::string describe(const operation& op, size_t index) {
  std::ostringstream out;
  out << "#" << index << " client " << op.client << " [" << op.invoked << ", ";
  if (op.result == outcome::unknown)
    out << "?";
  else
    out << op.completed;
  out << "] ";
  switch (op.kind) {
    case op_kind::put:
      out << "put " << quote(op.key) << " "
          << (op.value ? quote(*op.value) : "(no value)");
      break;
    case op_kind::del:
      out << "del " << quote(op.key);
      break;
    case op_kind::get:
      out << "get " << quote(op.key);
      if (op.result == outcome::ok)
        out << " -> " << state_name(op.value);
      break;
  }
  switch (op.result) {
    case outcome::ok:
      out << " (ok)";
      break;
    case outcome::failed:
      out << " (failed)";
      break;
    case outcome::unknown:
      out << " (unknown)";
      break;
  }
  return out.str();
}

std::string describe(const verdict& v, const std::vector<operation>& history) {
  std::ostringstream out;
  const double ms = static_cast<double>(v.elapsed.count()) / 1000.0;
  switch (v.result) {
    case verdict_kind::linearizable:
      out << "linearizable: " << v.operations_checked << " operations on "
          << v.keys << " keys checked in " << ms << " ms\n";
      break;
    case verdict_kind::not_linearizable:
      out << "NOT linearizable: " << v.failures.size() << " of " << v.keys
          << " keys fail (" << v.operations_checked << " operations on "
          << v.keys_checked << " keys checked in " << ms << " ms)\n";
      break;
    case verdict_kind::budget_exceeded:
      out << "unknown (budget exceeded): " << v.keys_checked << " of "
          << v.keys << " keys checked in " << ms
          << " ms, no violation found in them\n";
      break;
  }
  if (!v.unchecked_keys.empty()) {
    out << "unchecked keys:";
    for (const std::string& k : v.unchecked_keys)
      out << " " << quote(k);
    out << "\n";
  }
  for (const key_verdict& kv : v.failures) {
    out << "key " << quote(kv.key) << ": " << kv.operations
        << " operations, not linearizable; window of " << kv.window.size()
        << " operations" << (kv.window_truncated ? " (not fully shrunk)" : "")
        << ":\n";
    const bool has_culprit = kv.culprit && *kv.culprit < history.size();
    for (size_t i : kv.window) {
      if (i >= history.size())
        continue;
      out << "  " << describe(history[i], i);
      if (has_culprit && i == *kv.culprit)
        out << "  <- cannot be linearized";
      else if (has_culprit && history[i].result == outcome::ok
               && history[i].completed > history[*kv.culprit].completed)
        out << "  (still running then: may or may not have taken effect)";
      out << "\n";
    }
    out << "  " << kv.explanation << "\n";
  }
  return out.str();
}

} // namespace lg::check
