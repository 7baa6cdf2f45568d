#!/usr/bin/env bash
# Installs what is missing, builds ferry (release), and runs its main job:
# scripts/main-job.sh. Run as root on Debian 12.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/setup.sh
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release -Dtests=disabled -Dbenchmarks=disabled >/dev/null
fi
ninja -C build ferry >/dev/null
exec scripts/main-job.sh "$top/build/ferry"
