#!/usr/bin/env bash
# Regenerates gen/ (Go + connect-go) and sdk/ts/src/gen (protoc-gen-es v2) from proto/, the
# configuration reference (docs/configuration.md, README.md's settings) from the flags, and the
# dashboard's build (internal/ui/dist, which carries the protos' descriptors through sdk/ts).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/protodeps.sh
[ -x sdk/ts/node_modules/.bin/protoc-gen-es ] || (cd sdk/ts && npm ci --no-audit --no-fund --loglevel=error)
go tool -modfile=tools/go.mod buf format -w proto
# What buf's clean option would do, without deleting gen/go.mod and gen/go.sum: gen/ is the Go
# module github.com/workflow-runtime/workflow-runtime/gen (buf.gen.yaml has clean: false).
find gen -type f \( -name '*.pb.go' -o -name '*.connect.go' \) -delete
find gen -mindepth 1 -type d -empty -delete
rm -rf sdk/ts/src/gen
go tool -modfile=tools/go.mod buf generate
scripts/config-docs.sh
# The dashboard links sdk/ts (file:../../sdk/ts) and bundles its build: the SDK first, then the
# dashboard into internal/ui/dist, which the binary embeds.
[ -d web-examples/dashboard/node_modules ] || (cd web-examples/dashboard && npm ci --no-audit --no-fund --loglevel=error)
(cd sdk/ts && npm run build --silent)
(cd web-examples/dashboard && npm run build --silent -- --logLevel=warn)
