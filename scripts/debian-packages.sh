#!/usr/bin/env bash
# Installs the Debian packages civicloop needs that are missing, in one apt-get call:
#   gettext         msgfmt, to compile the English catalogue
#   chromium        the browser the Playwright tests drive (/usr/bin/chromium)
#   fonts-noto-cjk  Chinese text in the PDF outlet label sheets
# With --bench (`make bench`), also:
#   wrk             the HTTP load generator of `python -m bench cases --http`
# Needs root (or sudo) only when something is missing.
set -euo pipefail

missing=()
command -v msgfmt >/dev/null || missing+=(gettext)
test -x /usr/bin/chromium || missing+=(chromium)
test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
  || test -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc \
  || missing+=(fonts-noto-cjk)
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null || missing+=(wrk)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
