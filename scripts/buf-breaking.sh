#!/usr/bin/env bash
# Runs `buf breaking` on proto/ against an earlier version of it, with the FILE rules of buf.yaml.
#
# What it compares against, first match wins:
#   1. $BUF_BREAKING_AGAINST: any git ref (e.g. main, origin/main, v1.2.0);
#   2. HEAD, when proto/ in the work tree differs from HEAD (local, uncommitted edits);
#   3. HEAD~1, the previous commit: CI runs on a fresh clone of the submitted main, where the work
#      tree is HEAD, so the change under test is the last commit.
# It skips (exit 0, with a message) only when that ref does not exist (first commit, shallow clone)
# or has no proto/ yet.
#
# The against side is not a `.git#ref=...,subdir=proto` input: buf would build it from the bare
# checkout, where buf/validate/validate.proto (copied into the git-ignored .build/protodeps by
# scripts/protodeps.sh) does not exist. Instead the ref's proto/ is exported next to this
# checkout's buf.yaml and .build/protodeps, and that workspace is the against input.
set -euo pipefail
cd "$(dirname "$0")/.."

buf() { go tool -modfile=tools/go.mod buf "$@"; }

if [ -n "${BUF_BREAKING_AGAINST:-}" ]; then
  ref=$BUF_BREAKING_AGAINST
elif [ -n "$(git status --porcelain --untracked-files=all -- proto)" ]; then
  ref=HEAD
else
  ref=HEAD~1
fi

if ! git rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
  echo "buf-breaking: skipped: $ref does not exist (first commit or shallow clone)."
  exit 0
fi
if ! git cat-file -e "$ref:proto" 2>/dev/null; then
  echo "buf-breaking: skipped: $ref has no proto/ to compare against."
  exit 0
fi

scripts/protodeps.sh
against=$(mktemp -d)
trap 'rm -rf "$against"' EXIT
git archive "$ref" proto | tar -x -C "$against"
cp buf.yaml "$against/"
mkdir -p "$against/.build"
cp -R .build/protodeps "$against/.build/"

echo "buf-breaking: proto/ against $ref ($(git rev-parse --short "$ref"))"
buf breaking proto --against "$against/proto"
echo "buf-breaking: no breaking changes."
