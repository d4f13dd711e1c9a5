// Linearizability checking of a history of operations on a key-value register.
//
// Model. Each key is an independent register whose initial state is "absent".
// put(key, value) sets it to value (upsert), del(key) sets it to absent, and
// get(key) returns its value or absent. Every operation in a history carries
// the client that issued it, its invocation and completion times and an
// outcome:
//   ok       it completed; a get carries the value it read;
//   failed   it certainly did not take effect: it is dropped from the check;
//   unknown  it timed out: a put or del may have taken effect at any point
//            after its invocation, or never (its completion time is taken to
//            be +infinity); an unknown get tells nothing and is dropped.
// Operation a precedes operation b in real time when a.completed < b.invoked;
// operations whose intervals touch (a.completed == b.invoked) are concurrent.
// The history is linearizable when every key's operations can be put in one
// order that respects real-time precedence and in which every get returns what
// the register holds at that point.
//
// Algorithm. Wing and Gong's backtracking search ("Testing and verifying
// concurrent objects", J. Parallel Distrib. Comput. 1993) with Lowe's
// memoisation of visited configurations ("Testing for linearizability",
// Concurrency and Computation 2017), the "WGL" algorithm, as structured in
// Porcupine's checker.go (Anish Athalye, github.com/anishathalye/porcupine).
// Steps:
//   1. Drop failed operations and unknown gets; give unknown puts and dels a
//      completion time of +infinity, so that the search may linearize them
//      at any point after their invocation.
//   2. Partition the history by key (linearizability is compositional:
//      Herlihy and Wing 1990) and check each key on its own.
//   3. For a key, sort the call and return events by time (calls before
//      returns at equal times) into a doubly linked list.
//   4. Walk the list from its head. At a call, try to linearize the operation
//      now: if the register allows it and the configuration (set of
//      linearized operations, register state) was never seen before, record
//      it in the cache, push the operation with the state before it, unlink
//      ("lift") its call and return, and restart from the head. At a return
//      whose call is still in the list, that operation must have been
//      linearized already: backtrack by popping the last operation, relinking
//      ("unlift") it and trying the next call after it. Once every operation
//      with a finite completion is linearized the key is linearizable;
//      backtracking from an empty stack means no order works.
//      Unknown writes are not tried on their own (which would explore every
//      subset of the writes still pending): one is linearized only together
//      with a get that reads its value while the register holds another,
//      right before it. This loses nothing: in any linearization, an unknown
//      write that no get reads before the next write can be dropped (taken as
//      never applied), one that writes the value already held can be
//      dropped too, and any other is directly followed by a get of its value.
//      Two prunings keep the search small under concurrency, both sound: a
//      get the register allows now is linearized at once with no
//      alternative tried (taking it later never helps: it changes nothing),
//      and a configuration is abandoned as soon as an available get reads a
//      value the register does not hold and no write of that value that is
//      invoked before the get returns is left.
//      The cache stores each set of linearized operations compactly: the
//      operations are numbered by invocation, so a set is "everything up to
//      a frontier" plus a few words of bits.
//   5. For a key that fails, find a small window (below) and explain it.
//
// Window. For a key that is not linearizable the checker reports a window: a
// subset of that key's operations that, checked as a history of its own from
// the absent state, is not linearizable either, and whose failure implies the
// key's. (Operations of the window still running when the culprit below
// completes are searched as unknown; as recorded they fail all the more.)
// It is found in three steps.
//   - Shortest failing prefix. The prefix at time t holds the operations
//     completed by t, with the puts and dels still running at t taken as
//     unknown and the gets still running dropped; every prefix of a
//     linearizable history is linearizable, so the earliest t (a completion
//     time, by binary search) whose prefix fails ends the window. The
//     operation completing at t is the culprit: the history before it can be
//     linearized, with it it cannot.
//   - Latest start. Operations are dropped from the start of that prefix
//     while what is left still fails (binary search over a time m): the
//     window keeps every operation that completes at or after m, where m is
//     at most the invocation of each of them, so that everything dropped
//     precedes everything kept in real time and comes first in any
//     linearization. It also keeps every unknown write, which may take effect
//     anywhere after its invocation, and the dropped writes that no other
//     dropped write precedes in real time: the last write before the window
//     is one of them, so they stand for the state the window starts from.
//   - Finally the unknown writes whose value no get of the window reads are
//     left out: they can always be taken as never applied.
//
// Budget. check_history() stops when its time budget or its memory limit for
// the search is spent, and then says "budget exceeded" (nothing is known about
// the keys left unchecked) unless a key already failed, which is a violation
// regardless. Windows are searched after every key is checked, and shrunk as
// far as the budget allows.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace lg::check {

/// What an operation does to its key's register.
enum class op_kind { put, del, get };

/// How an operation ended, as the client saw it.
enum class outcome {
  ok,      ///< completed; a get carries what it read
  failed,  ///< certainly not applied: treated as never having happened
  unknown, ///< timed out: may apply at any time after invocation, or never
};

/// One operation of a history.
struct operation {
  uint32_t client = 0;
  op_kind kind = op_kind::get;
  std::string key;
  /// put: the value written (required); get: the value read, nullopt for
  /// absent; del: ignored.
  std::optional<std::string> value;
  int64_t invoked = 0;   ///< invocation time, in any tick unit
  /// Completion time, below INT64_MAX; ignored for unknown outcomes.
  int64_t completed = 0;
  outcome result = outcome::ok;
};

/// The overall answer of a check.
enum class verdict_kind {
  linearizable,     ///< every key was checked and can be linearized
  not_linearizable, ///< at least one key cannot be linearized
  budget_exceeded,  ///< no violation found, but some key was not (fully) checked
};

/// Writes "linearizable", "not linearizable" or "unknown (budget exceeded)".
std::ostream& operator<<(std::ostream& out, verdict_kind kind);

/// A key whose operations cannot be linearized, with its smallest window.
struct key_verdict {
  std::string key;
  size_t operations = 0; ///< operations of the key that were checked
  /// Indices into the history of the window's operations (see the header
  /// comment), sorted by invocation time.
  std::vector<size_t> window;
  /// Index into the history of the operation whose completion makes the key
  /// non-linearizable (it is in the window); nullopt when the budget ran out
  /// before the shortest failing prefix was found.
  std::optional<size_t> culprit;
  /// True when the budget ran out before the window was shrunk completely.
  bool window_truncated = false;
  std::string explanation; ///< one sentence on why the window fails
};

/// The result of check_history().
struct verdict {
  verdict_kind result = verdict_kind::linearizable;
  size_t operations_checked = 0; ///< after dropping failed ops and unknown gets
  size_t keys = 0;               ///< distinct keys with operations to check
  size_t keys_checked = 0;       ///< keys whose check finished
  std::vector<key_verdict> failures;       ///< one per non-linearizable key
  std::vector<std::string> unchecked_keys; ///< keys the budget did not reach
  std::chrono::microseconds elapsed{0};

  /// True when the history was fully checked and is linearizable.
  bool linearizable() const { return result == verdict_kind::linearizable; }
};

/// Limits on one check_history() call.
struct check_options {
  /// Wall-clock time for the whole call (every key and every window).
  std::chrono::milliseconds budget{10000};
  /// Bytes the search's cache of configurations may hold for one key.
  size_t memory_limit = size_t{1} << 30;
};

/// Checks `history` for linearizability against the key-value register.
/// Throws std::invalid_argument for a malformed operation (an ok operation
/// completed before it was invoked or at INT64_MAX, or a put without a
/// value).
verdict check_history(const std::vector<operation>& history,
                      const check_options& options);

/// Same as check_history(history, options) with `budget` and the default
/// memory limit.
verdict check_history(const std::vector<operation>& history,
                      std::chrono::milliseconds budget
                      = std::chrono::milliseconds(10000));

/// Describes `v` for a human: the overall result and, for each failing key,
/// its window of operations with clients, times, results and the culprit.
std::string describe(const verdict& v, const std::vector<operation>& history);

/// Describes one operation on one line, e.g.
/// `#7 client 2 [40, 50] get "k" -> "a" (ok)`; an unknown operation's
/// completion shows as `?`.
std::string describe(const operation& op, size_t index);

} // namespace lg::check
