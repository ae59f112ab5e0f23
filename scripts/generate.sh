#!/usr/bin/env bash
# Regenerates gen/ (Go + connect-go) and sdk/ts/src/gen (protoc-gen-es v2) from proto/, and the
# configuration reference (docs/configuration.md, README.md's settings) from the flags.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/protodeps.sh
[ -x sdk/ts/node_modules/.bin/protoc-gen-es ] || (cd sdk/ts && npm ci --no-audit --no-fund --loglevel=error)
go tool -modfile=tools/go.mod buf format -w proto
go tool -modfile=tools/go.mod buf generate
scripts/config-docs.sh
