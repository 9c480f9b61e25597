#!/usr/bin/env bash
# Fails when the committed generated code (its barrel, or the rebuilt buf.validate proto) differs from what
# the protos produce now. Generates into a temporary directory, so it needs no git and changes
# nothing in the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

node packages/proto/scripts/print-validate-proto.mjs "$tmp/proto"
if ! diff -u proto/buf/validate/validate.proto "$tmp/proto/buf/validate/validate.proto"; then
  echo "proto/buf/validate/validate.proto is stale: run 'pnpm generate' and commit" >&2
  exit 1
fi
buf lint
buf generate --output "$tmp"
if ! diff -r packages/proto/src/gen "$tmp/packages/proto/src/gen"; then
  echo "packages/proto/src/gen is stale: run 'pnpm generate' and commit" >&2
  exit 1
fi
node packages/proto/scripts/write-index.mjs "$tmp/packages/proto/src/gen" "$tmp/index.ts"
if ! diff -u packages/proto/src/index.ts "$tmp/index.ts"; then
  echo "packages/proto/src/index.ts is stale: run 'pnpm generate' and commit" >&2
  exit 1
fi
echo "generated code is up to date"
