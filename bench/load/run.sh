#!/usr/bin/env bash
# Load benchmark of oauthgate (issue #18). One command, on a fresh clone:
#
#   bash bench/load/run.sh [flags]      # -quick for a short smoke run, -h for flags
#
# Serves the example report service on 127.0.0.1 in process, loads it with
# ghz (pinned in bench/load/go.mod, never in the library's go.mod), runs the
# fault scenarios, and writes bench/load/results.md. Takes about four and a
# half minutes with the default flags; every phase is bounded in time.
set -euo pipefail
cd "$(dirname "$0")"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uptime)" >&2
exec go run . -out results.md "$@"
