# Rootless podman 4.3.1 for the personality tests, with the settings that
# work on these machines (contracts.md section 5): runc, cgroupfs, the file
# events logger, vfs storage, HOME and XDG_RUNTIME_DIR of its own under the
# test's temporary folder, and an image imported offline from busybox-static.
# Source after common.sh and rootless.sh, then call ft_podman_setup with the
# network_cmd_path to use. ft_podman ARGS... runs podman as the test user.

ft_podman_setup() {
  local netcmd=$1
  command -v podman >/dev/null || { echo "SKIP: podman is not installed (scripts/setup.sh installs it)"; exit 77; }
  command -v runc >/dev/null || { echo "SKIP: runc is not installed (scripts/setup.sh installs it)"; exit 77; }
  PM_HOME="$FT_TMP/home"
  PM_RUN="$FT_TMP/run"
  mkdir -p "$PM_HOME" "$PM_RUN"
  chmod 0700 "$PM_HOME" "$PM_RUN"
  cat >"$FT_TMP/containers.conf" <<CONF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
network_cmd_path = "$netcmd"
# podman 4.x asks slirp4netns for IPv6 by default (--enable-ipv6): left so.
CONF
  cat >"$FT_TMP/storage.conf" <<CONF
[storage]
driver = "vfs"
runroot = "$PM_RUN/containers"
graphroot = "$PM_HOME/storage"
CONF
  chown -R "$FT_USER:$FT_USER" "$PM_HOME" "$PM_RUN"
  chmod 0644 "$FT_TMP/containers.conf" "$FT_TMP/storage.conf"
  # Clean-up, in reverse order: containers, the storage (files of sub-uids,
  # removed from inside podman's user namespace), the pause process.
  ft_on_exit "ft_podman_pause_kill"
  ft_on_exit "ft_podman unshare rm -rf $PM_HOME/storage $PM_RUN/containers"
  ft_on_exit "ft_podman rm -af -t 0"

  # The image: busybox-static and a few applet links.
  local rootfs="$FT_TMP/rootfs" a
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in sh nc ip cat echo sleep grep wc head ping true; do ln -sf busybox "$rootfs/bin/$a"; done
  chown -R "$FT_USER:$FT_USER" "$rootfs"
  PM_IMAGE="localhost/ferry-busybox-$FT_ID"
  if ! tar -C "$rootfs" -c . | ft_podman import - "$PM_IMAGE" >"$FT_TMP/import.log" 2>&1; then
    echo "SKIP: rootless podman cannot import an image on this machine (outside ferry):"
    cat "$FT_TMP/import.log"
    exit 77
  fi
}

ft_podman() {
  (cd "$FT_TMP" && "${FT_AS_USER[@]}" env HOME="$PM_HOME" XDG_RUNTIME_DIR="$PM_RUN" \
    XDG_CONFIG_HOME="$PM_HOME/.config" XDG_DATA_HOME="$PM_HOME/.local/share" \
    CONTAINERS_CONF="$FT_TMP/containers.conf" CONTAINERS_STORAGE_CONF="$FT_TMP/storage.conf" \
    podman "$@")
}

# The rootless pause process podman leaves to keep its user namespace.
ft_podman_pause_kill() {
  local f="$PM_RUN/libpod/tmp/pause.pid"
  [ -f "$f" ] && ft_kill "$(cat "$f")"
  return 0
}

# Processes running the binary at PATH (by /proc/PID/exe), one PID a line.
ft_pids_of_exe() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" == "$1" ] && echo "${p#/proc/}"
  done
  return 0
}
