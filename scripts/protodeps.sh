#!/usr/bin/env bash
# Copies buf/validate/validate.proto out of the Go module github.com/bufbuild/protovalidate into
# .build/protodeps, where buf.yaml expects it. The module holds no Go package, so `go mod tidy`
# keeps no requirement on it in tools/go.mod: its version and go.sum hash are pinned here
# instead, and the download is checked against both.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/bufbuild/protovalidate
version=v1.2.2
sum=h1:2H/9/Kr97etSRqW3IJjTTb09z+zutkK2GDhDRbOnqr4=
# Outside any module (/), so that no go.mod or go.sum is consulted or changed; the download is
# verified against the checksum database as usual, then against the pinned hash.
json=$(cd / && GO111MODULE=on GOFLAGS= go mod download -json "$mod@$version")
field() { sed -n 's/^[[:space:]]*"'"$1"'": "\(.*\)",*$/\1/p' <<<"$json"; }
dir=$(field Dir)
[ -n "$dir" ] || { echo "protodeps: cannot download $mod@$version: $json" >&2; exit 1; }
[ "$(field Sum)" = "$sum" ] || { echo "protodeps: $mod@$version has hash $(field Sum), not the pinned $sum" >&2; exit 1; }
mkdir -p .build/protodeps/buf/validate
install -m 0644 "$dir/proto/protovalidate/buf/validate/validate.proto" .build/protodeps/buf/validate/validate.proto
