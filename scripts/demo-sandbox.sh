#!/usr/bin/env bash
# The sandbox demo: builds the test corpus (benign ARM programs imitating IoT malware
# behaviours, plus samples that must not run), runs it as a campaign in the container and
# minimal environments (add system with VIGIL_DEMO_SYSTEM=1), and writes the reports.
# `vigil sandbox prepare` downloads and builds the environments once, with network; the
# campaign then runs under `unshare -n`: no uplink, only the sandbox's own sinkhole.
# Output goes to ${1:-/tmp/vigil-sandbox-demo}.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/vigil-sandbox-demo}
scripts/deps.sh >/dev/null
scripts/build.sh
corpus=$(tests/fixtures/samples/build.sh)
envs=(--env container --env minimal)
[ "${VIGIL_DEMO_SYSTEM:-0}" = 1 ] && envs+=(--env system)
rm -rf "$out"
mkdir -p "$out"
echo "== corpus: $corpus"
ls "$corpus"
echo "== preparing ${envs[*]} (downloads Debian's armhf packages on the first run only)"
build/vigil sandbox prepare "${envs[@]}"
echo "== campaign (${envs[*]}) into $out/results.db"
unshare -n build/vigil sandbox run "${envs[@]}" "$corpus" -o "$out/results.db" \
	--alerts "$out/alerts.jsonl"
echo "== reports"
build/vigil sandbox report "$out/results.db" --csv "$out/results.csv" --json-dir "$out/json" \
	--chart "$out/chart.png"
/usr/bin/python3 - "$out/results.csv" "$corpus" <<'PY'
import csv, hashlib, os, sys
names = {hashlib.sha256(open(os.path.join(sys.argv[2], n), "rb").read()).hexdigest(): n
         for n in os.listdir(sys.argv[2]) if not n.startswith(".")}
for r in csv.DictReader(open(sys.argv[1])):
    print(f"{names.get(r['sha256'], r['sha256'][:12]):11} {r['environment']:9} "
          f"{r['research_verdict']:14} {r['exit_status']:13} {r['behaviour_score']:>3} "
          f"{r['behaviours'][:48]:48} {r['finer_verdict'][:60]}")
PY
echo "== $(wc -l <"$out/alerts.jsonl") alerts in $out/alerts.jsonl; chart: $out/chart.png"
