#!/usr/bin/env bash
# Installs what camera-streaming needs on Debian 12/13 or Ubuntu 22.04+ (apt packages when
# missing, a venv at .venv using the system's PyGObject/gst-python, the package in editable mode).
# Usage: scripts/setup.sh [--dev]    (--dev adds test tools, the real RTSP/RTMP peers and
#                                     headless Chromium for the status page)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0; [ "${1:-}" = "--dev" ] && dev=1

pkgs=(python3-venv python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
      gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp
      gstreamer1.0-tools
      # WebRTC (WHEP): webrtcbin's ICE agent (libnice) and its GstWebRTC/GstSdp bindings
      gstreamer1.0-nice gir1.2-gst-plugins-bad-1.0)
if [ "$dev" = 1 ]; then
  # chromium: status-page test; systemd: unit check; nginx + its RTMP module: the real
  # RTMP server the --rtmp tests start on a loopback port; openssl: RTSPS test certificates;
  # gcc, pkg-config, libgstrtspserver-1.0-dev: the C baseline server of the benchmarks.
  # iproute2: the network namespaces of the WS-Discovery test.
  dev_pkgs=(ffmpeg procps chromium fonts-dejavu-core systemd nginx libnginx-mod-rtmp openssl gcc
            pkg-config libgstrtspserver-1.0-dev iproute2)
  pkgs+=("${dev_pkgs[@]}")
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  apt_install() { DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "$@"; }
  if ! apt_install "${missing[@]}"; then
    # One unknown name (a release that renamed a package) must not block the rest: retry one
    # by one; a missing runtime package is fatal, a missing test tool only a warning.
    for p in "${missing[@]}"; do
      if ! apt_install "$p"; then
        case " ${dev_pkgs[*]:-} " in
          *" $p "*) echo "setup: warning: could not install $p (tests that need it will fail)" >&2 ;;
          *) echo "setup: error: could not install $p" >&2; exit 1 ;;
        esac
      fi
    done
  fi
fi

# Debian's python3-gi / python3-gst-1.0 carry the gst-python overrides (Buffer.map as a context
# manager); they are built for /usr/bin/python3, so the venv uses that interpreter and sees them.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import gi" 2>/dev/null; then
  rm -rf .venv
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/.installed-$( (cat pyproject.toml; echo "$dev") | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$dev" = 1 ]; then .venv/bin/python -m pip install -q -e '.[dev]'; else .venv/bin/python -m pip install -q -e .; fi
  rm -f .venv/.installed-*; touch "$stamp"
fi
