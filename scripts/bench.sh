#!/usr/bin/env bash
# make bench: build the C baseline next to asyncn, boot the guest in bench
# mode RUNS times (default 3), and report across the runs with
# scripts/bench-report.py: a table, the check of its targets, and in
# build/bench/ the runs' logs (run-<n>.log), bench.json and the plots
# latency-cdf.{png,svg} and cost-per-write.{png,svg}. The exit status is
# the report's: 1 when a target is missed.
#
# A run is one boot: boots differ more than the rounds of one boot do, so
# the report takes medians across boots, not the figures of a single one.
#
# FLAVOUR=trace: the kernel with ftrace's function-graph tracer; each run
# also records the writer's slow calls (scripts/bench-trace.py: where the
# time went, build/bench/trace-<n>.txt).
. "$(dirname "$0")/lib.sh"
arch_setup

# The plots' matplotlib, pinned (installed into build/venv, beside the
# oelint-adv of lint-layer.sh).
MATPLOTLIB_VERSION=3.10.9

RUNS=${RUNS:-3}
[[ $RUNS =~ ^[0-9]+$ ]] && ((10#$RUNS >= 1)) ||
	die "RUNS=$RUNS: expected a whole number of guest boots, 1 or more" "for example: make bench RUNS=3"
RUNS=$((10#$RUNS))

# The plotting venv first: a missing python3-venv or an unreachable package
# index then stops the bench before the boots, not after them. build/venv is
# shared, so it is only ever added to.
venv=$BUILD/venv
has_matplotlib() {
	"$venv/bin/python3" -c 'import sys, matplotlib; sys.exit(matplotlib.__version__ != sys.argv[1])' \
		"$MATPLOTLIB_VERSION" 2>/dev/null
}
if ! has_matplotlib; then
	step "installing matplotlib $MATPLOTLIB_VERSION into ${venv#"$TOP"/} (the bench plots)"
	if [ ! -x "$venv/bin/python3" ]; then
		python3 -m venv "$venv" ||
			die "python3 -m venv failed" "install python3-venv (Debian), then run make again"
	fi
	"$venv/bin/python3" -m pip install --quiet "matplotlib==$MATPLOTLIB_VERSION" ||
		die "installing matplotlib $MATPLOTLIB_VERSION into ${venv#"$TOP"/} failed"
	has_matplotlib || die "${venv#"$TOP"/} has no matplotlib $MATPLOTLIB_VERSION after installing it"
fi

"$TOP/scripts/build-bench-module.sh"
"$TOP/scripts/build-initramfs.sh"

# One guest CPU unless asked: the writer and the subscribers share CPU 0
# (asyncn-test bench's default), and a second vCPU, idle but woken by its
# periodic tick, only competes with the busy one and QEMU's own threads for
# the host's cores (docs/benchmarks.md). GUEST_CPUS=2 with
# BENCH_ARGS="--subscriber-cpu 1": subscribers on the other CPU.
export GUEST_CPUS=${GUEST_CPUS:-1}

bench=$BUILD/bench
mkdir -p "$bench"
# Nothing of an earlier bench stays beside this one's runs (bench.svg: the
# plot of the report before the plots were matplotlib's).
rm -f "$bench"/run-*.log "$bench"/trace-*.txt "$bench"/bench.{json,svg} "$bench"/{latency-cdf,cost-per-write}.{png,svg}
logs=()
for ((i = 1; i <= RUNS; i++)); do
	step "bench run $i of $RUNS"
	GUEST_TIMEOUT=${GUEST_TIMEOUT:-1200} "$TOP/scripts/run-guest.sh" bench
	cp "$OUT/guest-bench.log" "$bench/run-$i.log"
	logs+=("$bench/run-$i.log")
done

step "report across $RUNS run(s): ${bench#"$TOP"/}/"
if [ "$FLAVOUR" = trace ]; then
	# The figures of a traced kernel (the tracer's hooks are in every traced
	# call) are shown, not judged: this flavour is for where the time goes.
	status=0
	"$venv/bin/python3" "$TOP/scripts/bench-report.py" "$bench" "${logs[@]}" || status=$?
	# 1: a target missed, not judged here; anything else: the report failed.
	[ "$status" -le 1 ] || exit "$status"
	[ "$status" = 0 ] || info "(FLAVOUR=trace: the targets are not judged on a traced kernel)"
	exec "$venv/bin/python3" "$TOP/scripts/bench-trace.py" "$bench" "${logs[@]}"
fi
exec "$venv/bin/python3" "$TOP/scripts/bench-report.py" "$bench" "${logs[@]}"
