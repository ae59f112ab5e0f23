#!/usr/bin/env bash
# Regenerates the configuration reference from the binary's own flags: docs/configuration.md,
# and the table of the main settings in README.md (between <!-- config:begin --> and
# <!-- config:end -->). Run by scripts/generate.sh; scripts/check-generated.sh fails when either
# is stale.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/workflow-runtime" ./cmd/workflow-runtime
"$bin/workflow-runtime" config docs --output=docs/configuration.md
"$bin/workflow-runtime" config docs --format=summary --splice --output=README.md
