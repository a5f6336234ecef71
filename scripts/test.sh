#!/usr/bin/env bash
# `npm test`: installs what is missing, type-checks everything (tests
# included), lints (oxlint with its type-aware rules, .oxlintrc.json),
# builds the guest fixtures (cached), then runs every test with node's own
# runner.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }

bash scripts/setup.sh
say "type-checking (tsc --noEmit, the node side and the web page)"
npx tsc -p tsconfig.json --noEmit
npx tsc -p src/frontends/web/page/tsconfig.json
say "linting (oxlint, type-aware: floating and misused promises, the layer table's imports)"
npm run lint --silent
say "building the compiled CLI (tsc), the web page and the bundled client CLI (esbuild)"
npm run build --silent
if [ -f scripts/fixtures/build-guests.sh ] && [ "${MEMWEAVE_SKIP_FIXTURES:-0}" != 1 ]; then
  say "building QEMU guest fixtures (cached in ${MEMWEAVE_CACHE:-.cache/fixtures})"
  bash scripts/fixtures/build-guests.sh
  say "building the XSAVE (-cpu max) guest dump of the debugger tests (cached)"
  bash scripts/fixtures/build-xsave-dump.sh
fi
mapfile -t files < <(find src test -name '*.test.ts' | sort)
say "running ${#files[@]} test files"
exec node --import tsx --test --test-reporter=spec "${files[@]}"
