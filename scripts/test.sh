#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the cmocka unit tests (meson test)
# a short libFuzzer pass over every fuzz target, and the end-to-end tests with real QEMU guests
# (pytest), then prints one summary line.
# Extra arguments go to pytest (e.g. -k ps). Debian's python3 runs pytest (python3-pytest), not
# whatever python3 comes first on PATH.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 2
scripts/build.sh || exit 2

unit_log=$(mktemp)
meson test -C build --suite unit --print-errorlogs 2>&1 | tee "$unit_log"
unit_ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$unit_log" | tail -1)
unit_fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$unit_log" | tail -1)
unit_to=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$unit_log" | tail -1)
rm -f "$unit_log"
unit_ok=${unit_ok:-0}
unit_fail=$(( ${unit_fail:-0} + ${unit_to:-0} ))

# Fuzz smoke: every libFuzzer target (clang, ASan + UBSan) for a few seconds on its own seeds
# and whatever it generates; a crash, leak or sanitizer report fails it.
fuzz_ok=0
fuzz_fail=0
fuzz_secs=${VIGIL_FUZZ_SECONDS:-20}
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false >/dev/null || fuzz_fail=1
fi
if [ "$fuzz_fail" -eq 0 ] && ninja -C build-fuzz >/dev/null 2>&1; then
	for t in build-fuzz/tests/fuzz/fuzz_*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		corpus=$(mktemp -d)
		if "$t" -max_total_time="$fuzz_secs" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
			"$corpus" >"$corpus.log" 2>&1; then
			echo "fuzz $(basename "$t"): ok ($(grep -o 'Done [0-9]* runs' "$corpus.log"))"
			fuzz_ok=$((fuzz_ok + 1))
		else
			echo "fuzz $(basename "$t"): FAILED"
			tail -40 "$corpus.log"
			fuzz_fail=$((fuzz_fail + 1))
		fi
		rm -rf "$corpus" "$corpus.log"
	done
else
	echo "fuzz: build failed"
	fuzz_fail=1
fi

# The e2e files run two at a time (pytest-xdist, a file per worker: each file shares its booted
# guests between its tests). VIGIL_E2E_JOBS=1 runs them one after another.
e2e_jobs=${VIGIL_E2E_JOBS:-2}
xdist=()
if [ "$e2e_jobs" -gt 1 ] && /usr/bin/python3 -c 'import xdist' 2>/dev/null; then
	xdist=(-n "$e2e_jobs" --dist loadfile)
fi
e2e_log=$(mktemp)
VIGIL_BIN="$PWD/build/vigil" /usr/bin/python3 -m pytest tests/e2e -ra -p no:cacheprovider \
	"${xdist[@]}" "$@" 2>&1 | tee "$e2e_log"
e2e_rc=${PIPESTATUS[0]}
last=$(grep -E '^=+ .*(passed|failed|error|no tests ran).* =+$' "$e2e_log" | tail -1)
rm -f "$e2e_log"
e2e_pass=$(echo "$last" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
e2e_fail=$(echo "$last" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s += $1} END {print s + 0}')
e2e_skip=$(echo "$last" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || true)
e2e_pass=${e2e_pass:-0}
e2e_fail=${e2e_fail:-0}
e2e_skip=${e2e_skip:-0}
[ "$e2e_rc" -ne 0 ] && [ "$e2e_fail" -eq 0 ] && e2e_fail=1

echo
echo "unit: $unit_ok passed, $unit_fail failed"
echo "fuzz: $fuzz_ok passed, $fuzz_fail failed"
echo "e2e: $e2e_pass passed, $e2e_fail failed, $e2e_skip skipped"
total_pass=$((unit_ok + fuzz_ok + e2e_pass))
total_fail=$((unit_fail + fuzz_fail + e2e_fail))
echo "total: $total_pass passed, $total_fail failed, $e2e_skip skipped"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
