#!/usr/bin/env bash
# Runs every benchmark and prints its figures. Benchmarks are not tests: they
# measure this machine; see docs/benchmarks.md for how each one measures and
# for dated results.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
echo "== write_throughput (16 x 64 in flight, the default set-up)"
"$BUILD/bench/write_throughput"
echo "== write_throughput (16 x 512 in flight)"
"$BUILD/bench/write_throughput" 0.25 512
echo "== failover"
"$BUILD/bench/failover" 16 256 4096
echo "== checkpoint"
"$BUILD/bench/checkpoint" 400000 100
echo "== rebuild"
"$BUILD/bench/rebuild" 1024
echo "== rebalance"
"$BUILD/bench/rebalance" 16 64
echo "== multinode"
"$BUILD/bench/multinode" "$BUILD/leafguard" 5 256 16 256
echo "== mysql (50 connections, one query at a time, beside Redis)"
"$BUILD/bench/mysql" --connections 50 --seconds 10
