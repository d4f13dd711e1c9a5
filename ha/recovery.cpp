#include "ha/recovery.hpp"

#include <algorithm>

#include "base/bugs.hpp"

namespace lg::ha {

namespace {

/// Describes the term `master_hist` gives to `lsn`, for a divergence reason.
std::string master_term_text(const std::vector<storage::term_start>& hist,
                             uint64_t lsn) {
  auto term = term_at(hist, lsn);
  if (term == 0)
    return "master has no term there";
  return "master has term " + std::to_string(term);
}

/// Builds the reason for a copy record (term, lsn) the master disagrees on.
std::string disagreement(uint64_t term, uint64_t lsn,
                         const std::vector<storage::term_start>& master_hist) {
  return "copy has term " + std::to_string(term) + " at lsn "
         + std::to_string(lsn) + ", " + master_term_text(master_hist, lsn);
}

} // namespace

namespace {

/// True when position `a` is after `b`: a higher term, or the same term and
/// a higher lsn.
bool ends_after(storage::log_position a, storage::log_position b) {
  return a.term != b.term ? a.term > b.term : a.lsn > b.lsn;
}

std::string position_text(storage::log_position p) {
  return "term " + std::to_string(p.term) + ", lsn " + std::to_string(p.lsn);
}

} // namespace

master_choice
choose_recovered_master(const std::vector<recovered_copy>& copies) {
  master_choice res;
  bool has_master = false;
  for (size_t i = 0; i < copies.size(); ++i) {
    if (copies[i].role != instance_role::master)
      continue;
    has_master = true;
    if (copies[i].state == copy_state::serving) {
      res.kind = master_choice::keep;
      res.index = i;
      return res;
    }
  }
  auto may_hold_all = [&](const recovered_copy& c) {
    return c.role == instance_role::master
           || (c.role == instance_role::replica && (c.in_sync || !has_master));
  };
  std::vector<size_t> candidates;
  for (size_t i = 0; i < copies.size(); ++i) {
    const auto& c = copies[i];
    if (!may_hold_all(c))
      continue;
    if (c.state == copy_state::pending) {
      res.kind = master_choice::wait;
      res.index = i;
      res.reason = "the copy on " + c.leaf + " is not reported yet";
      return res;
    }
    if (c.state == copy_state::reported || c.state == copy_state::serving)
      candidates.push_back(i);
  }
  if (candidates.empty()) {
    res.kind = master_choice::none;
    for (const auto& c : copies) {
      std::string why;
      if (c.state == copy_state::failed)
        why = "is corrupt";
      else if (!may_hold_all(c))
        why = "may lack acknowledged writes (out of sync)";
      else
        why = "is offline";
      if (!res.reason.empty())
        res.reason += "; ";
      res.reason += "the copy on " + c.leaf + " " + why;
    }
    if (res.reason.empty())
      res.reason = "no copy";
    return res;
  }
  const recovered_copy* master = nullptr;
  bool any_unknown = false;
  for (auto i : candidates) {
    if (copies[i].role == instance_role::master)
      master = &copies[i];
    if (!copies[i].position_known)
      any_unknown = true;
  }
  size_t best = candidates.front();
  const recovered_copy* live_replica = nullptr;
  for (auto i : candidates)
    if (copies[i].role == instance_role::replica && copies[i].in_sync
        && copies[i].state == copy_state::serving && live_replica == nullptr)
      live_replica = &copies[i];
  if (any_unknown && live_replica != nullptr && !bugs::trust_recorded_master) {
    best = static_cast<size_t>(live_replica - copies.data());
    res.reason = "the in-sync copy on " + live_replica->leaf
                 + " never went down";
  } else if (any_unknown && master != nullptr) {
    best = static_cast<size_t>(master - copies.data());
  } else {
    bool found = false;
    for (auto i : candidates) {
      const auto& c = copies[i];
      if (!c.position_known)
        continue;
      if (!found || ends_after(c.last, copies[best].last)
          || (c.last == copies[best].last && c.role == instance_role::master)) {
        best = i;
        found = true;
      }
    }
  }
  res.kind = master_choice::choose;
  res.index = best;
  const auto& chosen = copies[best];
  res.new_term = chosen.role != instance_role::master;
  for (size_t i = 0; i < copies.size() && !res.new_term; ++i) {
    const auto& c = copies[i];
    if (i == best || c.state == copy_state::failed)
      continue; // a failed copy is rebuilt from scratch
    if (c.state != copy_state::reported || !c.position_known
        || ends_after(c.last, chosen.last))
      res.new_term = true;
  }
  if (chosen.position_known) {
    res.reason = "the copy on " + chosen.leaf + " ends at "
                 + position_text(chosen.last);
    for (const auto& c : copies)
      if (&c != &chosen && c.role == instance_role::master && c.position_known
          && c.state == copy_state::reported)
        res.reason += "; the recorded master on " + c.leaf + " ends at "
                      + position_text(c.last);
  }
  return res;
}

recovery_rule classify_recovered(const std::string& leaf,
                                 const std::string& pair,
                                 const std::vector<instance_view>& others) {
  std::vector<std::string> followed;
  if (!pair.empty())
    followed.push_back(pair);
  return classify_recovered(leaf, followed, others);
}

recovery_rule classify_recovered(const std::string& leaf,
                                 const std::vector<std::string>& followed,
                                 const std::vector<instance_view>& others) {
  for (const auto& inst : others) {
    if (inst.role != instance_role::master || !inst.leaf_online)
      continue;
    if (inst.leaf != leaf
        && std::find(followed.begin(), followed.end(), inst.leaf)
             != followed.end())
      return recovery_rule::replica;
    return recovery_rule::orphan;
  }
  return recovery_rule::reintroduce;
}

uint64_t end_lsn_for_term(const std::vector<storage::term_start>& history,
                          storage::log_position last, uint64_t term) {
  bool found = false;
  for (const auto& entry : history) {
    if (entry.term > term)
      return found && entry.start_lsn > 0 ? entry.start_lsn - 1 : 0;
    found = true;
  }
  return found ? last.lsn : 0;
}

uint64_t term_at(const std::vector<storage::term_start>& history,
                 uint64_t lsn) {
  uint64_t term = 0;
  for (const auto& entry : history) {
    if (entry.start_lsn > lsn)
      break;
    term = entry.term;
  }
  return term;
}

divergence_result
check_divergence(const std::vector<storage::term_start>& copy_hist,
                 storage::log_position copy_last,
                 const std::vector<storage::term_start>& master_hist,
                 storage::log_position master_last) {
  divergence_result res;
  if (copy_last.lsn == 0) {
    res.catch_up_from = 1;
    return res;
  }
  if (copy_hist.empty()) {
    // Without a history nothing proves the records match the master's: only
    // a rebuild is safe.
    res.diverged = true;
    res.reason = "copy ends at lsn " + std::to_string(copy_last.lsn)
                 + " but has no term history";
    return res;
  }
  for (size_t i = 0; i < copy_hist.size(); ++i) {
    auto term = copy_hist[i].term;
    // Lsn 0 is the empty log, not a record.
    auto start = std::max<uint64_t>(copy_hist[i].start_lsn, 1);
    auto next = i + 1 < copy_hist.size() ? copy_hist[i + 1].start_lsn
                                         : copy_last.lsn + 1;
    if (next <= start)
      continue;
    auto end = std::min(next - 1, copy_last.lsn);
    // What lies beyond the master's last lsn is reported below.
    if (start > master_last.lsn)
      break;
    end = std::min(end, master_last.lsn);
    if (term_at(master_hist, start) != term) {
      res.diverged = true;
      res.reason = disagreement(term, start, master_hist);
      return res;
    }
    // Terms only grow with lsns, so equal terms at both ends cover the whole
    // range; otherwise the first disagreeing lsn is right after the master's
    // last record of this term.
    if (term_at(master_hist, end) != term) {
      auto first_bad = end_lsn_for_term(master_hist, master_last, term) + 1;
      res.diverged = true;
      res.reason = disagreement(term, first_bad, master_hist);
      return res;
    }
  }
  if (copy_last.lsn > master_last.lsn) {
    res.diverged = true;
    res.reason = "copy ends at lsn " + std::to_string(copy_last.lsn)
                 + " beyond master's " + std::to_string(master_last.lsn);
    return res;
  }
  res.catch_up_from = copy_last.lsn + 1;
  return res;
}

} // namespace lg::ha
