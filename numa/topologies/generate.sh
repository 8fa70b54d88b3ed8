#!/usr/bin/env bash
# Regenerates the hwloc XML fixtures of this folder from synthetic descriptions (lstopo) and adds
# a NUMA latency matrix to each (hwloc-annotate), like a server's ACPI SLIT. Needs hwloc-utils.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# make NAME SYNTHETIC NODES: writes NAME.xml; the distance for nodes i, j comes from distance().
make() {
  local name=$1 synthetic=$2 nodes=$3 tmp
  tmp=$(mktemp -d)
  lstopo-no-graphics --input "$synthetic" --of xml --force "$tmp/plain.xml"
  {
    echo "name=NUMALatency"
    echo 5  # HWLOC_DISTANCES_KIND_FROM_OS | HWLOC_DISTANCES_KIND_MEANS_LATENCY
    echo "$nodes"
    for ((i = 0; i < nodes; i++)); do echo "numa:$i"; done
    for ((i = 0; i < nodes; i++)); do
      for ((j = 0; j < nodes; j++)); do distance "$i" "$j"; done
    done
  } >"$tmp/distances.txt"
  hwloc-annotate "$tmp/plain.xml" "$name.xml" -- none -- distances "$tmp/distances.txt"
  # Drop the name of the generating process so that the files do not depend on who made them.
  sed -i '/name="ProcessName"/d' "$name.xml"
  rm -r "$tmp"
}

# 2 sockets x 16 cores x 2 PUs, one node per socket (Linux-style numbering: siblings are +32).
distance() { if [ "$1" = "$2" ]; then echo 10; else echo 21; fi; }
make 2socket "package:2 numa:1(memory=206158430208) core:16 pu:2(indexes=2*32:1*2)" 2

# 4 sockets x 8 cores x 2 PUs in a ring: neighbours 21, the opposite socket 31.
distance() {
  local d=$(( ($1 - $2 + 4) % 4 ))
  case $d in 0) echo 10 ;; 2) echo 31 ;; *) echo 21 ;; esac
}
make 4socket "package:4 numa:1(memory=103079215104) core:8 pu:2(indexes=2*32:1*2)" 4

# 8 sockets x 2 NUMA nodes (sub-NUMA clustering) x 2 cores x 2 PUs: same socket 12, sockets of
# the same half of the machine 21, the other half 32.
distance() {
  local si=$(($1 / 2)) sj=$(($2 / 2))
  if [ "$1" = "$2" ]; then echo 10
  elif [ "$si" = "$sj" ]; then echo 12
  elif [ $((si / 4)) = $((sj / 4)) ]; then echo 21
  else echo 32; fi
}
make 8socket-snc2 "package:8 numa:2(memory=34359738368) core:2 pu:2(indexes=2*32:1*2)" 16
