#!/bin/sh
# The browser tests drive Debian's Chromium. Install it when we are root on Debian;
# otherwise say what to install. Under CI=true a missing browser is a failure.
chromium="${OV_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    [ -x "$chromium" ] && exit 0
fi
echo "Chromium is missing at $chromium: the browser tests need it." >&2
echo "Install it with: sudo apt-get install chromium   (or set OV_CHROMIUM to its path)" >&2
if [ "${CI:-}" = "true" ]; then
    exit 1
fi
echo "Continuing: the browser tests will be reported as skipped." >&2
exit 0
