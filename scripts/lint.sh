#!/usr/bin/env bash
# Checks the tracked files for two things and fails (exit 1) on either,
# printing each offender:
#   1. words that refer to the project's planning history instead of the
#      code: a work session, an issue or a point followed by its number.
#      The tree speaks of itself; history belongs in git log.
#   2. C++ sources (*.cpp, *.hpp) in actors/, storage/ or cluster/ longer
#      than 800 lines: split them by sub-protocol or job.
# Only files git tracks are read, so build directories are ignored. Runs
# from any directory.
#   scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."

max_lines=800
# This file has to spell the pattern, so it is left out of the word check.
self=scripts/lint.sh
history_words='\b([Ss]ession|[Ii]ssue|[Pp]oint)s? [0-9]+|issue.s set-up'

failed=0

mapfile -d '' files < <(git ls-files -z)
checked=()
for f in "${files[@]}"; do
  [ "$f" = "$self" ] && continue
  [ -f "$f" ] && checked+=("$f")
done

hits=""
if [ ${#checked[@]} -gt 0 ]; then
  # grep exits 1 when a batch has no match; only the output counts.
  hits=$(printf '%s\0' "${checked[@]}" \
           | xargs -0 grep -n -I -E -H -s -- "$history_words" || true)
fi
if [ -n "$hits" ]; then
  while IFS= read -r hit; do
    echo "$hit: refers to planning history; say what the code does" >&2
  done <<<"$hits"
  failed=1
fi

for f in "${files[@]}"; do
  case "$f" in
    actors/*.cpp | actors/*.hpp | storage/*.cpp | storage/*.hpp | \
      cluster/*.cpp | cluster/*.hpp) ;;
    *) continue ;;
  esac
  [ -f "$f" ] || continue
  n=$(wc -l <"$f")
  if [ "$n" -gt "$max_lines" ]; then
    echo "$f:$n: $n lines, more than $max_lines; split it" >&2
    failed=1
  fi
done

if [ "$failed" -ne 0 ]; then
  echo "lint: failed" >&2
  exit 1
fi
echo "lint: ok"
