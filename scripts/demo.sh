#!/usr/bin/env bash
# Installs what is missing, builds ferry (release), and runs its main job:
# scripts/engine-demo.sh - ferryctl starts, as an unprivileged user, a web
# server container with a published port and a second container on the same
# bridge network that fetches from the first by name, and reports. Run as
# root on Debian 12. (scripts/main-job.sh is the smaller demo of ferry alone:
# one rootless container fetching a page from the host.)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/setup.sh
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release -Doptimization=2 -Dtests=disabled -Dbenchmarks=disabled >/dev/null
fi
ninja -C build ferry engine/ferryctl aardvark-dns/ferry-dns netavark-plugin/ferry-bridge >/dev/null
exec scripts/engine-demo.sh "$top/build"
