#!/usr/bin/env bash
# Training from a binary cache read cold (its pages dropped from the page cache first, with
# `dd iflag=nocache count=0`, i.e. posix_fadvise(POSIX_FADV_DONTNEED); checked with fincore)
# against warm (every page cached): wall seconds of the whole `train` run (open + checksum pass +
# training) and the examples/s it reports, REPEATS times each, alternating.
# Usage: benchmarks/data/cold_cache_bench.sh SHADOWSYNC_EXE CACHE [REPEATS (default 2)] [TRAIN ARGS...]
set -euo pipefail
exe="${1:?usage: cold_cache_bench.sh SHADOWSYNC_EXE CACHE [REPEATS] [TRAIN ARGS...]}"
cache="${2:?usage: cold_cache_bench.sh SHADOWSYNC_EXE CACHE [REPEATS] [TRAIN ARGS...]}"
repeats="${3:-2}"
shift 3 || shift $#
train_args=("$@")
[ ${#train_args[@]} -eq 0 ] && train_args=(--model tiny --groups 1 --threads-per-group 2 --quiet
  --eval-fraction 0.01 --topology "package:1 core:2 pu:1")
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores online"
echo "cache: $cache, $(($(stat -c %s "$cache") / 1000000)) MB (apparent), load $(cut -d' ' -f1 /proc/loadavg)"
one() {  # MODE
  if [ "$1" = cold ]; then
    dd if="$cache" iflag=nocache count=0 status=none
  else
    cat "$cache" >/dev/null
  fi
  local resident t0 t1 out
  resident=$(fincore --noheadings --output RES "$cache" 2>/dev/null || echo "?")
  t0=$(date +%s.%N)
  out=$("$exe" train --data "$cache" "${train_args[@]}" 2>&1)
  t1=$(date +%s.%N)
  echo "$1 (resident before: $resident): $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') s wall," \
    "$(echo "$out" | grep -m1 -o '[0-9.]* examples/s')"
}
for _ in $(seq "$repeats"); do
  one warm
  one cold
done
