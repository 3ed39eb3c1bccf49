#!/usr/bin/env bash
# Validation time and peak memory per engine and size; prints one line per run:
#   engine triples wall_seconds cpu_seconds max_rss_kib output
# (cpu = user + system: on a shared machine the wall clock also counts other people's work)
# Usage: benchmarks/validation/run.sh OUTDIR "1e4 1e5 1e6 1e7" "shacl pyshacl ..." [timeout_s]
# Each run is its own process under /usr/bin/time -v (max RSS is that process's alone). The
# graphs come from benchmarks/scale/generate.py (the shipped graph replicated with renamed
# things, so every copy conforms). "sovkg" runs `sovkg validate FILE` (its default engine, the
# fast one), "sovkg-pyshacl" runs `sovkg validate --engine pyshacl FILE`; any other name runs
# benchmarks/validation/engines.py --engine NAME in this interpreter.
set -u
out=$1; sizes=$2; engines=$3; limit=${4:-1800}
py=${PYTHON:-python}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
mkdir -p "$out"
for s in $sizes; do
  n=$(printf '%.0f' "$s")
  f="$out/kg-$n.nq"
  # generate.py needs the project installed: GENERATOR may name another interpreter for it
  [ -f "$f" ] || "${GENERATOR:-$py}" "$root/benchmarks/scale/generate.py" --triples "$n" --output "$f"
  for e in $engines; do
    log="$out/$e-$n.log"
    if [ "$e" = sovkg ]; then
      cmd=("$(dirname "$py")/sovkg" validate "$f")
    elif [ "$e" = sovkg-pyshacl ]; then
      cmd=("$(dirname "$py")/sovkg" validate --engine pyshacl "$f")
    else
      cmd=("$py" "$here/engines.py" --engine "$e" --data "$f")
    fi
    timeout "$limit" /usr/bin/time -v "${cmd[@]}" > "$log.out" 2> "$log"
    rc=$?
    secs=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
    rss=$(grep "Maximum resident" "$log" | awk '{print $NF}')
    cpu=$(awk -F': ' '/User time|System time/ {t += $2} END {printf "%.1f", t}' "$log")
    if [ $rc -eq 124 ]; then echo "$e $n timeout>${limit}s - - -"; continue; fi
    echo "$e $n $secs $cpu ${rss:--} $(tail -1 "$log.out" | head -c 200)"
  done
done
