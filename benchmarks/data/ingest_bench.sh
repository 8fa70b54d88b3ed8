#!/usr/bin/env bash
# Compressed-ingest benchmark: rows/s of `shadowsync convert` reading a generated Criteo TSV as
# gzip and as zstd, against the decompressor alone (`gzip -dc`, `zstd -dc` to /dev/null) on the
# same file, in the same run; and parse MB/s of the uncompressed text on 1 core and on every core.
# Usage: benchmarks/data/ingest_bench.sh SHADOWSYNC_EXE [ROWS (default 1000000)] [WORK_DIR]
# Prints one line per measurement and the ratios; the machine (CPU model, cores) first.
set -euo pipefail
exe="${1:?usage: ingest_bench.sh SHADOWSYNC_EXE [ROWS] [WORK_DIR]}"
rows="${2:-1000000}"
work="${3:-$(mktemp -d)}"
mkdir -p "$work"
cores="$(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $cores cores online"
"$exe" gen --rows "$rows" --seed 11 --out "$work/x.tsv" >/dev/null
gzip -6 -c "$work/x.tsv" >"$work/x.tsv.gz"
zstd -q -3 -c "$work/x.tsv" >"$work/x.tsv.zst"
mb=$(($(stat -c %s "$work/x.tsv") / 1000000))
echo "data: $rows rows, $mb MB text, $(($(stat -c %s "$work/x.tsv.gz") / 1000000)) MB gzip -6, $(($(stat -c %s "$work/x.tsv.zst") / 1000000)) MB zstd -3"

# Seconds of a command (best of 3, page cache warm).
seconds() {
  local best=""
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    best=$(echo "$t0 $t1 $best" | awk '{d = $2 - $1; if ($3 == "" || d < $3) print d; else print $3}')
  done
  echo "$best"
}
rate() { awk -v r="$rows" -v s="$1" 'BEGIN { printf "%.0f", r / s }'; }

gz_dec=$(seconds sh -c "gzip -dc '$work/x.tsv.gz' > /dev/null")
zs_dec=$(seconds sh -c "zstd -dc '$work/x.tsv.zst' > /dev/null")
gz_conv=$(seconds "$exe" convert "$work/x.tsv.gz" "$work/out.bin")
zs_conv=$(seconds "$exe" convert "$work/x.tsv.zst" "$work/out.bin")
tsv_all=$(seconds "$exe" convert "$work/x.tsv" "$work/out.bin")
tsv_one=$(seconds taskset -c 0 "$exe" convert "$work/x.tsv" "$work/out.bin")
echo "gzip -dc            $(rate "$gz_dec") rows/s  ($gz_dec s)"
echo "convert x.tsv.gz    $(rate "$gz_conv") rows/s  ($gz_conv s)  ratio to gzip -dc: $(awk -v a="$gz_dec" -v b="$gz_conv" 'BEGIN{printf "%.2f", a / b}')"
echo "zstd -dc            $(rate "$zs_dec") rows/s  ($zs_dec s)"
echo "convert x.tsv.zst   $(rate "$zs_conv") rows/s  ($zs_conv s)  ratio to zstd -dc: $(awk -v a="$zs_dec" -v b="$zs_conv" 'BEGIN{printf "%.2f", a / b}')"
echo "convert x.tsv, 1 core      $(awk -v m="$mb" -v s="$tsv_one" 'BEGIN{printf "%.0f", m / s}') MB/s  ($(rate "$tsv_one") rows/s)"
echo "convert x.tsv, $cores cores     $(awk -v m="$mb" -v s="$tsv_all" 'BEGIN{printf "%.0f", m / s}') MB/s  ($(rate "$tsv_all") rows/s)"
peak=$( { /usr/bin/time -f '%M' "$exe" convert "$work/x.tsv.gz" "$work/out.bin" >/dev/null; } 2>&1 | tail -1)
echo "peak RSS of convert x.tsv.gz: $((peak / 1024)) MiB (text $mb MB)"
[ -z "${3:-}" ] && rm -rf "$work"
exit 0
