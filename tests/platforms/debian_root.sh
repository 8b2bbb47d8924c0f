#!/usr/bin/env bash
# A real Debian root of another release (e.g. trixie = Debian 13) in which the whole suite runs with chroot.
#
#   debian_root.sh build SUITE ROOT      debootstrap SUITE into ROOT (cached: kept once complete)
#   debian_root.sh run ROOT REPO SHARED CMD...
#                                        copy REPO's files into ROOT, bind SHARED beside them, run CMD there
#
# The root is built aside (ROOT.partial) and moved into place only when debootstrap and the CA set-up have
# finished, so an interrupted build is never taken for a cached one. Packages come from the same Debian
# mirror the host's apt uses; pip inside the root gets the host's pip configuration and CA certificates.
set -euo pipefail

host_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { echo "debian_root.sh: no Debian mirror in the host's apt sources" >&2; exit 2; }
  echo "$uri"
}

copy_host_config() {  # network, pip and CA settings the host's own clients use
  local root=$1
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  [ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
  mkdir -p "$root/root/.config/pip" "$root/usr/local/share/ca-certificates"
  [ -f "$HOME/.config/pip/pip.conf" ] && cp "$HOME/.config/pip/pip.conf" "$root/root/.config/pip/pip.conf"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
  # testing's Release files carry a Valid-Until date that a mirror kept as a dated snapshot outlives; a
  # throwaway test root accepts them rather than failing every apt-get update.
  mkdir -p "$root/etc/apt/apt.conf.d"
  echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99wrok-test-root"
}

remove_root() {  # never through a mount: a killed run may leave the host's /dev bound inside
  local path=$1
  [ -e "$path" ] || return 0
  awk -v root="$(realpath "$path")/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$path"
}

build() {
  local suite=$1 root=$2
  if [ -f "$root/.wrok-root-complete" ]; then echo "Debian $suite root cached in $root"; return; fi
  command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  remove_root "$root.partial" && mkdir -p "$(dirname "$root")"
  echo "building a Debian $suite root in $root (debootstrap, a few minutes)"
  debootstrap --variant=minbase --include=ca-certificates,make,git "$suite" "$root.partial" "$(host_mirror)" \
    > "$root.partial.log" 2>&1 || { tail -20 "$root.partial.log"; exit 1; }
  copy_host_config "$root.partial"
  chroot "$root.partial" update-ca-certificates >/dev/null
  touch "$root.partial/.wrok-root-complete"
  remove_root "$root" && mv "$root.partial" "$root" && rm -f "$root.partial.log"
}

unmount_all() {
  local root
  root=$(realpath "$1")
  awk -v root="$root/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
}

run() {
  local root=$1 repo=$2 shared=$3; shift 3
  [ -f "$root/.wrok-root-complete" ] || { echo "debian_root.sh: no complete root in $root" >&2; exit 2; }
  copy_host_config "$root"
  # The repository's files (tracked and new, not ignored) replace the last copy; the root's own venvs stay.
  mkdir -p "$root/wrok/main" "$root/wrok/shared"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard) > "$root/wrok/files.list"
  find "$root/wrok/main" -mindepth 1 -maxdepth 1 ! -name '.venv*' -exec rm -rf {} +
  (cd "$repo" && tar --null -T "$root/wrok/files.list" --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$root/wrok/main"
  trap "unmount_all '$root'" EXIT
  mount --bind /proc "$root/proc"; mount --bind /sys "$root/sys"; mount --bind /dev "$root/dev"
  mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null || true
  mount -t tmpfs tmpfs "$root/dev/shm"
  mount --bind "$shared" "$root/wrok/shared" && mount -o remount,bind,ro "$root/wrok/shared"
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 CI="${CI:-}" PIP_DEFAULT_TIMEOUT=180 /bin/bash -c 'cd /wrok/main && "$@"' bash "$@"
}

# One compound command ending in exit: bash has read all of it before it runs, so a checkout updated while a long
# run goes on cannot change what this run executes next.
{
  case "${1:-}" in
    build) build "$2" "$3" ;;
    run) shift; run "$@" ;;
    *) echo "usage: debian_root.sh build SUITE ROOT | run ROOT REPO SHARED CMD..." >&2; exit 2 ;;
  esac
  exit
}
