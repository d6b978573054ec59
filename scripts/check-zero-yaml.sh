#!/usr/bin/env bash
# Forward-compatibility proof: Nango dropped nango.yaml in CLI 0.69.44. A user forced onto the newest
# CLI runs `nango migrate-to-zero-yaml`; this script does exactly that on a copy of nango-integrations/
# and then `nango compile`, and fails if either step fails. The repo itself is never modified.
# NANGO_ZERO_YAML_CLI picks the CLI version (default: the newest checked one; "latest" for the newest).
set -euo pipefail

version="${NANGO_ZERO_YAML_CLI:-0.71.10}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export NANGO_CLI_UPGRADE_MODE=ignore

echo "zero-yaml check: installing nango@$version in a scratch folder"
# The project sits inside the CLI's folder so that its imports (zod, nango) resolve as in a user's repo.
mkdir -p "$work/cli/project"
(cd "$work/cli" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "nango@$version" >/dev/null)
nango="$work/cli/node_modules/.bin/nango"

cp -R "$repo/nango-integrations" "$work/cli/project/"
cd "$work/cli/project/nango-integrations"
rm -rf dist .nango clari-copilot/tests

echo "zero-yaml check: nango migrate-to-zero-yaml ($("$nango" --version))"
"$nango" migrate-to-zero-yaml
test ! -e nango.yaml || { echo "zero-yaml check: nango.yaml is still there after the migration" >&2; exit 1; }

echo "zero-yaml check: nango compile"
"$nango" compile
grep -q "clari-copilot/syncs/calls" index.ts || { echo "zero-yaml check: index.ts does not register the calls sync" >&2; exit 1; }
echo "zero-yaml check: passed (the migrated project compiles with nango@$version)"
