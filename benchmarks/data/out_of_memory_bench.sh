#!/usr/bin/env bash
# Training and conversion when the data is larger than the memory allowed to the process: a
# cgroup-v1 memory limit (page cache a process faults in is charged to its cgroup, so a cache
# several times the limit cannot stay resident) against a warm run (the whole cache in the page
# cache, no limit). Generates a Criteo TSV, converts it inside the limit (peak memory), measures
# the disk's sequential read rate, then `train` from the cache REPEATS times each way,
# alternating: examples/s, open seconds (wall minus training seconds: opening reads the cache
# once for its checksums), the process's max RSS, the cgroup's peak and failcnt, and what stayed
# resident (fincore).
# Usage: benchmarks/data/out_of_memory_bench.sh SHADOWSYNC_EXE [LIMIT_MIB (512)] [ROWS (15000000)]
#          [REPEATS (3)] [MAX_EXAMPLES (5000000)] [WORK_DIR]
#        benchmarks/data/out_of_memory_bench.sh --check SHADOWSYNC_EXE   (small smoke run: asserts
#          that convert and train complete and the cgroup's peak stays under the limit)
# Needs root and the cgroup-v1 memory controller; otherwise prints "skipped: ..." and exits 0.
# Disk: the TSV (~243 bytes a row, removed after convert) and the cache (160 bytes a row).
set -euo pipefail
usage="usage: out_of_memory_bench.sh [--check] SHADOWSYNC_EXE [LIMIT_MIB] [ROWS] [REPEATS] [MAX_EXAMPLES] [WORK_DIR]"
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
exe="${1:?$usage}"
if [ "$check" = 1 ]; then
  limit_mib=192 rows=1200000 repeats=1 max_examples=0 work=""
  table_rows=(--rows-per-table 1024)
else
  limit_mib="${2:-512}" rows="${3:-15000000}" repeats="${4:-3}" max_examples="${5:-5000000}" work="${6:-}"
  table_rows=()
fi
[ -x "$exe" ] || { echo "$usage" >&2; echo "$exe: not an executable" >&2; exit 2; }
exe="$(realpath "$exe")"

cgroot=/sys/fs/cgroup/memory
skip() { echo "skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (to create a memory cgroup)"
[ -w "$cgroot/cgroup.procs" ] && [ -e "$cgroot/memory.limit_in_bytes" ] ||
  skip "no writable cgroup-v1 memory controller at $cgroot"
command -v fincore >/dev/null || skip "fincore (util-linux) not installed"

own_work=0
if [ -z "$work" ]; then
  work="$(mktemp -d "${TMPDIR:-/tmp}/oom_bench.XXXXXX")"
  own_work=1
fi
mkdir -p "$work"
work="$(realpath "$work")"
limited="$cgroot/shadowsync_oom_bench.$$.limited"
unlimited="$cgroot/shadowsync_oom_bench.$$.unlimited"
cleanup() {
  for cg in "$limited" "$unlimited"; do [ -d "$cg" ] && rmdir "$cg" 2>/dev/null || true; done
  rm -f "$work/x.tsv" "$work/x.tsv.json" "$work/x.bin" "$work"/x.bin.tmp.* "$work/run.log" "$work/rss" "$work/results"
  [ "$own_work" = 1 ] && rm -rf "$work"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$limited" "$unlimited"
echo "$((limit_mib * 1024 * 1024))" >"$limited/memory.limit_in_bytes"
echo 0 >"$limited/memory.swappiness" 2>/dev/null || true
limit_bytes=$(cat "$limited/memory.limit_in_bytes")

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores online"
echo "ram: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), swap: $(awk '/SwapTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
dev="$(df --output=source "$work" | tail -1)"
echo "disk: $work on $dev ($(df --output=fstype "$work" | tail -1)), read_ahead_kb $(cat "/sys/block/$(basename "$dev")/queue/read_ahead_kb" 2>/dev/null || echo '?')"
echo "limit: $limit_mib MiB (memory.limit_in_bytes $limit_bytes), load: $(cut -d' ' -f1-3 /proc/loadavg)"

# Runs a command inside cgroup $1.
in_cgroup() {
  local cg="$1"
  shift
  sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}
reset_cgroup() {  # CGROUP: peak and failcnt to 0, its charged page cache reclaimed
  echo 0 >"$1/memory.max_usage_in_bytes"
  echo 0 >"$1/memory.failcnt"
  echo 0 >"$1/memory.force_empty" 2>/dev/null || true
}
evict() { dd if="$1" iflag=nocache count=0 status=none; }  # posix_fadvise(POSIX_FADV_DONTNEED)
resident() { fincore --noheadings --bytes --output RES "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
stat_of() { awk -v k="$2" '$1 == k { print $2 }' "$1/memory.stat"; }
# Seconds, max RSS (KiB) and exit status of a command run inside cgroup $1: "SECONDS KIB RC"
# (its output in run.log).
measure() {
  local cg="$1" t0 t1 rc=0
  shift
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/rss" sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@" \
    >"$work/run.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $(tail -1 "$work/rss") $rc"
}
[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) not installed"

# --- data: a TSV several times the limit, read from disk (evicted) by convert inside the limit.
"$exe" gen --rows "$rows" --seed 7 --out "$work/x.tsv" >/dev/null
tsv_bytes=$(stat -c %s "$work/x.tsv")
evict "$work/x.tsv"
reset_cgroup "$limited"
read -r secs rss rc < <(measure "$limited" "$exe" convert "$work/x.tsv" "$work/x.bin" "${table_rows[@]}")
if [ "$rc" != 0 ]; then
  echo "convert inside the limit FAILED (exit $rc):"
  tail -5 "$work/run.log"
  exit 1
fi
cache_bytes=$(stat -c %s "$work/x.bin")
cache_disk_bytes=$(($(stat -c '%b * %B' "$work/x.bin")))  # without the last block's holes
echo "convert: $rows rows, $(mib "$tsv_bytes") MiB TSV ($(awk -v t="$tsv_bytes" -v l="$limit_bytes" 'BEGIN{printf "%.1f", t / l}') x the limit) -> $(mib "$cache_bytes") MiB cache, inside the limit:" \
  "$secs s, $(awk -v r="$rows" -v s="$secs" 'BEGIN{printf "%.0f", r / s}') rows/s, max RSS $((rss / 1024)) MiB," \
  "cgroup peak $(mib "$(cat "$limited/memory.max_usage_in_bytes")") MiB, failcnt $(cat "$limited/memory.failcnt")"
rm -f "$work/x.tsv" "$work/x.tsv.json"

# --- the disk: sequential read of the cache with O_DIRECT, and buffered (cold) inside the limit.
evict "$work/x.bin"
dd_direct=$(dd if="$work/x.bin" of=/dev/null bs=1M iflag=direct 2>&1 | awk '/copied/ { print $(NF-1), $NF }')
evict "$work/x.bin"
reset_cgroup "$limited"
dd_limited=$(in_cgroup "$limited" dd if="$work/x.bin" of=/dev/null bs=1M 2>&1 | awk '/copied/ { print $(NF-1), $NF }')
echo "disk read of the cache: $dd_direct (dd bs=1M iflag=direct), $dd_limited (dd bs=1M inside the limit," \
  "cgroup peak $(mib "$(cat "$limited/memory.max_usage_in_bytes")") MiB)"

# --- training, alternating warm (whole cache in the page cache, no limit) and limited (evicted).
train_args=(train --data "$work/x.bin" --model tiny --groups 1 --threads-per-group 2 --eval-fraction 0
  --topology "package:1 core:2 pu:1" --quiet)
[ "$max_examples" != 0 ] && train_args+=(--max-examples "$max_examples")
echo "train: ${train_args[*]}"
echo "cache: $(mib "$cache_bytes") MiB = $(awk -v c="$cache_bytes" -v l="$limit_bytes" 'BEGIN{printf "%.1f", c / l}') x the limit," \
  "$(awk -v c="$cache_disk_bytes" -v r="$rows" 'BEGIN{printf "%.1f", c / r}') bytes a row on disk"
results="$work/results"
: >"$results"
one() {  # MODE (warm | limited)
  local cg="$unlimited"
  if [ "$1" = warm ]; then
    cat "$work/x.bin" >/dev/null
  else
    cg="$limited"
    evict "$work/x.bin"
  fi
  reset_cgroup "$cg"
  local before secs rss rc line examples train_secs eps peak failcnt after
  before=$(resident "$work/x.bin")
  read -r secs rss rc < <(measure "$cg" "$exe" "${train_args[@]}")
  line=$(grep -m1 '^trained [0-9]* examples in' "$work/run.log" || true)
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    echo "$1: train FAILED (exit $rc; cgroup oom_control: $(tr '\n' ' ' <"$cg/memory.oom_control")):"
    tail -5 "$work/run.log"
    return 1
  fi
  examples=$(echo "$line" | awk '{ print $2 }')
  train_secs=$(echo "$line" | awk '{ print $5 }')
  eps=$(echo "$line" | awk '{ print $7 }')
  peak=$(cat "$cg/memory.max_usage_in_bytes")
  failcnt=$(cat "$cg/memory.failcnt")
  after=$(resident "$work/x.bin")
  echo "$1 $eps $(awk -v a="$secs" -v b="$train_secs" 'BEGIN{printf "%.2f", a - b}') $secs $((rss / 1024)) $(mib "$peak") $failcnt $examples $peak" >>"$results"
  echo "$1: resident before $(mib "$before") MiB, $examples examples, $eps examples/s, wall $secs s (training $train_secs s)," \
    "max RSS $((rss / 1024)) MiB, cgroup peak $(mib "$peak") MiB, failcnt $failcnt, cache $(mib "$(stat_of "$cg" cache)") MiB," \
    "mapped_file $(mib "$(stat_of "$cg" mapped_file)") MiB, resident after $(mib "$after") MiB"
}
for _ in $(seq "$repeats"); do
  one warm
  one limited
done

summary() {  # MODE COLUMN NAME
  awk -v m="$1" -v c="$2" -v n="$3" '$1 == m { v = $c; s += v; k++; if (k == 1 || v < lo) lo = v; if (k == 1 || v > hi) hi = v }
    END { if (k) printf "  %-26s %10.2f  (%.2f - %.2f, %d runs)\n", n, s / k, lo, hi, k }' "$results"
}
for mode in warm limited; do
  echo "$mode:"
  summary "$mode" 2 "examples/s"
  summary "$mode" 3 "open s (wall - training)"
  summary "$mode" 4 "wall s"
  summary "$mode" 5 "max RSS MiB"
  summary "$mode" 6 "cgroup peak MiB"
done
awk -v c="$cache_disk_bytes" -v r="$rows" '$1 == "limited" { s += $2; k++ } $1 == "warm" { w += $2; j++ }
  END { if (k && j) printf "limited / warm examples/s: %.2f; read rate the limited training needed: %.1f MB/s (%.1f bytes a row x %.0f examples/s)\n",
    (s / k) / (w / j), c / r * s / k / 1e6, c / r, s / k }' "$results"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Eviction really happened: the cgroup's peak stayed under its limit while it trained from a cache
# larger than it, and it had to reclaim (failcnt > 0).
bad=0
while read -r mode _ _ _ _ _ failcnt examples peak; do
  [ "$mode" = limited ] || continue
  if [ "$peak" -gt "$limit_bytes" ]; then echo "limited run: cgroup peak $peak > limit $limit_bytes"; bad=1; fi
  if [ "$cache_bytes" -gt "$limit_bytes" ] && [ "$failcnt" = 0 ]; then echo "limited run: failcnt 0, nothing was evicted"; bad=1; fi
  if [ "$max_examples" = 0 ] && [ "$examples" != "$rows" ]; then echo "limited run: trained $examples of $rows examples"; bad=1; fi
done <"$results"
if [ "$check" = 1 ]; then
  [ "$bad" = 0 ] && echo "check passed" || { echo "check FAILED"; exit 1; }
fi
exit 0
