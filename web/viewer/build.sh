#!/usr/bin/env bash
# Builds the viewer (web/viewer) into internal/viewer/dist, which the Go binary
# embeds. Needs Node.js >= 20.19 and npm; installs exactly the locked packages
# (npm ci) and runs vite build. The output is committed, so building cie itself
# never needs Node: run this after changing web/viewer and commit dist with it.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node --test src/
npx vite build
# index.html is the page template the Go handler parses (never served as is).
test -f ../../internal/viewer/dist/index.html
du -sh ../../internal/viewer/dist
