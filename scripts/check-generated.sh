#!/usr/bin/env bash
# Fails when the committed generated code is stale: runs scripts/generate.sh (buf format -w proto,
# buf generate, scripts/config-docs.sh, the dashboard's build) and checks that gen/,
# sdk/ts/src/gen, proto/, the configuration reference (docs/configuration.md, README.md's
# settings) and the dashboard's build (internal/ui/dist) came out exactly as they went in, with no
# changed, deleted or new files.
#
# "As they went in" is a snapshot of the work tree taken just before generating, so the check is
# also meaningful locally with uncommitted proto edits; on a clean clone (CI) it is the same as
# comparing against HEAD.
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(gen sdk/ts/src/gen proto docs/configuration.md README.md internal/ui/dist)

# snapshot writes the current content of $paths (tracked and untracked, minus .gitignore'd files)
# as a git tree object through a private index, leaving the real index alone; prints its id.
snapshot() {
  local index
  index=$(mktemp)
  rm -f "$index"
  GIT_INDEX_FILE=$index git add -A -- "${paths[@]}"
  GIT_INDEX_FILE=$index git write-tree
  rm -f "$index"
}

before=$(snapshot)
scripts/generate.sh
after=$(snapshot)

if [ "$before" != "$after" ]; then
  echo "check-generated: generated code, proto formatting or the configuration reference is out of date." >&2
  echo "Run scripts/generate.sh (or: task generate) and commit the result. Changes:" >&2
  git diff --stat "$before" "$after" >&2
  git status --porcelain --untracked-files=all -- "${paths[@]}" >&2
  exit 1
fi
echo "check-generated: gen/, sdk/ts/src/gen, proto/, the configuration reference and internal/ui/dist are up to date."
