#!/usr/bin/env bash
# Fails when the API in proto/ would break a client built from the committed baseline image,
# proto-baseline/altalune.binpb (buf breaking, FILE rules: wire, JSON and generated code; see
# buf.yaml). Offline: both sides are local. An intended break is a deliberate baseline update,
# documented in docs/compatibility.md ("Changing the contract"): `pnpm proto:baseline`.
# Optional argument: another workspace (a directory with buf.yaml and proto/) to check instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
input="${1:-.}"
if ! buf breaking "$input" --against proto-baseline/altalune.binpb; then
  echo "proto/ breaks clients of proto-baseline/altalune.binpb: keep the contract, or update the baseline deliberately (docs/compatibility.md)" >&2
  exit 1
fi
echo "no breaking change against proto-baseline/altalune.binpb"
