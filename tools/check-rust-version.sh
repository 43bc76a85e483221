#!/usr/bin/env bash
# Checks that the workspace's declared `rust-version` is true: no locked dependency
# declares a newer one. Reads `cargo metadata` (every package in Cargo.lock, with the
# `rust-version` its manifest declares); needs jq. Exits 1 and names each dependency
# that needs a newer Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

metadata=$(cargo metadata --format-version 1 --locked)
declared=$(jq -r '
  (.workspace_members) as $members
  | [.packages[] | select(.id as $id | $members | index($id)) | .rust_version // "none"]
  | unique | join(" ")' <<<"$metadata")
if [[ "$declared" == *" "* || "$declared" == "none" ]]; then
    echo "error: every workspace member must declare the same rust-version (found: $declared)" >&2
    exit 1
fi
newer=$(jq -r --arg msrv "$declared" '
  def v: (split(".") + ["0", "0"])[:3] | map(tonumber);
  .packages[]
  | select(.rust_version != null and (.rust_version | v) > ($msrv | v))
  | "  \(.name) \(.version) needs Rust \(.rust_version)"' <<<"$metadata")
if [[ -n "$newer" ]]; then
    echo "error: the workspace declares rust-version $declared, but locked dependencies need more:" >&2
    echo "$newer" >&2
    exit 1
fi
count=$(jq '[.packages[] | select(.rust_version != null)] | length' <<<"$metadata")
echo "rust-version $declared holds for all $count locked packages that declare one"
