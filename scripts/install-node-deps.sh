#!/usr/bin/env bash
# Installs the npm packages of every package-lock.json in the tree with `npm ci`: today
# editor/vscode (vscode-textmate and vscode-oniguruma for the grammar tests, vsce for the
# .vsix, shiki for the README picture, vscode-languageclient for the extension itself) and
# tests/azureml_emulator (the Azure ML emulator: @azure/arm-machinelearning's mappers,
# Azurite 3.35.0, @azure/storage-blob, yaml).
# Safe to run again: a folder whose node_modules was installed from its current lock file
# is skipped, so once it has run the tests need no network.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "install-node-deps: npm is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

mapfile -t locks < <(find . -name package-lock.json -not -path '*/node_modules/*' \
                       -not -path './build*' -not -path './.git/*' | sort)
for lock in "${locks[@]}"; do
  dir="$(dirname "$lock")"
  stamp="$dir/node_modules/.amlflow-installed"
  want="$(cat "$dir/package.json" "$lock" | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "install-node-deps: ${dir#./} is up to date"
    continue
  fi
  echo "install-node-deps: npm ci in ${dir#./}"
  (cd "$dir" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
  echo "$want" > "$stamp"
done
