#!/usr/bin/env bash
# `npm run bench`: installs what is missing, builds the guest fixtures the
# OS benchmarks use, then runs the benchmarks and rewrites bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json
[ -f scripts/fixtures/build-guests.sh ] && bash scripts/fixtures/build-guests.sh
exec node --import tsx bench/run-all.ts "$@"
