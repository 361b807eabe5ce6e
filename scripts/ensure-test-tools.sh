#!/bin/sh
# The browser tests drive Debian's Chromium; the duplicate tests read barcodes with zbarimg
# from a pdftoppm rendering. Install what is missing when we are root on Debian; otherwise
# say what to install. Under CI=true a missing tool is a failure.
chromium="${OV_CHROMIUM:-/usr/bin/chromium}"
missing=""
[ -x "$chromium" ] || missing="$missing chromium"
command -v zbarimg >/dev/null 2>&1 || missing="$missing zbar-tools"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's$missing for the tests..."
    # shellcheck disable=SC2086
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing \
        && exit 0
fi
echo "Missing for the tests:$missing." >&2
echo "Install with: sudo apt-get install$missing   (or set OV_CHROMIUM to Chromium's path)" >&2
if [ "${CI:-}" = "true" ]; then
    exit 1
fi
echo "Continuing: the tests that need them will be reported as skipped." >&2
exit 0
