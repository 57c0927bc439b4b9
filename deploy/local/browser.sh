#!/usr/bin/env bash
# Chromium and the fonts the notices' scripts need, from Debian's packages, for the test
# that screenshots the Khmer, Burmese, Lao and Chinese notices (docs/regimes.md).
# Installs what is missing when run as root with apt-get; otherwise says what to install.
# Usage: browser.sh install|status
source "$(dirname "$0")/common.sh"

# Debian's chromium, and fonts covering Thai, Khmer, Lao and Myanmar (Noto core) and
# Chinese (WenQuanYi Micro Hei, 1.6 MB where Noto CJK is over 100 MB).
PACKAGES=(chromium fonts-noto-core fonts-wqy-microhei)
SCRIPTS=(th km lo my zh-cn)

missing() {
  command -v chromium >/dev/null || echo chromium
  command -v fc-list >/dev/null || { echo fontconfig; return; }
  local lang
  for lang in "${SCRIPTS[@]}"; do
    [ -n "$(fc-list ":lang=$lang" family)" ] || echo "font:$lang"
  done
}

case "${1:-status}" in
  install)
    gaps=$(missing)
    if [ -z "$gaps" ]; then say "chromium and the fonts are installed"; exit 0; fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      say "installing ${PACKAGES[*]} from Debian's packages (missing: $(echo $gaps))..."
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}") >/dev/null \
        || die "apt-get could not install ${PACKAGES[*]}."
      gaps=$(missing)
      [ -z "$gaps" ] || die "still missing after the install: $(echo $gaps)"
      say "chromium and the fonts are installed"
    else
      die "missing: $(echo $gaps); install them with 'sudo apt-get install ${PACKAGES[*]}'."
    fi
    ;;
  status)
    gaps=$(missing)
    if [ -z "$gaps" ]; then echo "browser: installed"; else echo "browser: missing $(echo $gaps)"; fi
    ;;
  *) die "usage: $0 install|status" ;;
esac
