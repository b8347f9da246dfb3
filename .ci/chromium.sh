#!/usr/bin/env bash
# Makes sure a Chromium and a CJK font are installed, for the examples'
# browser test (examples/app TestWebDemo), and prints the browser's path on
# stdout. It installs Debian's chromium and fonts-noto-cjk with apt-get when
# either is missing: without the font, the demo's Chinese names render as
# boxes in the screenshots. Progress goes to stderr.
#
#   export CHROMIUM="$(bash .ci/chromium.sh)"
set -euo pipefail

find_chromium() {
  local name
  if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then
    echo "$CHROMIUM"
    return 0
  fi
  for name in chromium chromium-browser google-chrome-stable google-chrome headless-shell; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

has_cjk_font() {
  if command -v fc-list >/dev/null 2>&1; then
    [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]
  else
    dpkg -s fonts-noto-cjk >/dev/null 2>&1
  fi
}

if ! find_chromium >/dev/null || ! has_cjk_font; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: Chromium or a CJK font is missing and there is no apt-get: install Chromium and a Chinese font (such as Noto Sans CJK), or set CHROMIUM" >&2
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "chromium.sh: installing chromium and fonts-noto-cjk needs root (or sudo)" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "chromium.sh: installing chromium and fonts-noto-cjk" >&2
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium fonts-noto-cjk >&2
fi

if ! path=$(find_chromium); then
  echo "chromium.sh: no Chromium found after installing it" >&2
  exit 1
fi
if ! has_cjk_font; then
  echo "chromium.sh: no CJK font found after installing fonts-noto-cjk" >&2
  exit 1
fi
echo "$path"
