#!/usr/bin/env bash
# Rebuild the default bundle twice (sharing the speech feature cache) and compare file hashes.
# Usage: training/default/rebuild.sh [DATA]   (default ../shared/data); run from the repository root.
# The first build fills .cache/train-default when it is empty (~40 min of encoder time on 2 cores).
set -euo pipefail
DATA=${1:-../shared/data}
EMOENS=${EMOENS:-.venv/bin/emoens}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for i in 1 2; do
  start=$(date +%s)
  "$EMOENS" train-default --data "$DATA" --out "$TMP/b$i" --results "$TMP/r$i" --stats "$TMP/s$i" >"$TMP/log$i" 2>&1
  echo "build $i: $(( $(date +%s) - start )) s"
  (cd "$TMP/b$i" && find . -type f | sort | xargs sha256sum) >"$TMP/sha$i"
done
cat "$TMP/sha1"
if cmp -s "$TMP/sha1" "$TMP/sha2"; then echo "identical: yes"; else echo "identical: NO"; diff "$TMP/sha1" "$TMP/sha2"; exit 1; fi
