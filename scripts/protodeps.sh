#!/usr/bin/env bash
# Copies buf/validate/validate.proto out of the Go module github.com/bufbuild/protovalidate (the
# version pinned in tools/go.mod) into .build/protodeps, where buf.yaml expects it.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/bufbuild/protovalidate
dir=$(cd tools && go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
[ -n "$dir" ] || { echo "protodeps: cannot find $mod in the module cache" >&2; exit 1; }
mkdir -p .build/protodeps/buf/validate
install -m 0644 "$dir/proto/protovalidate/buf/validate/validate.proto" .build/protodeps/buf/validate/validate.proto
