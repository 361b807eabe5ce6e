#!/bin/sh
# The browser tests drive Debian's Chromium; the duplicate tests read barcodes with zbarimg
# from a pdftoppm rendering; the HTML tests run the Nu HTML Checker (npm's vnu-jar, pinned in
# tests/tools/package-lock.json) on Java. Install what is missing when we are root on Debian;
# otherwise say what to install. Under CI=true a missing tool is a failure.
chromium="${OV_CHROMIUM:-/usr/bin/chromium}"
missing=""
[ -x "$chromium" ] || missing="$missing chromium"
command -v zbarimg >/dev/null 2>&1 || missing="$missing zbar-tools"
command -v pdftoppm >/dev/null 2>&1 || missing="$missing poppler-utils"
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

# The checker itself comes from the npm registry (its own Java download is not wanted: the
# lock file is installed without running package scripts).
checker() {
    [ -f tests/tools/node_modules/vnu-jar/build/dist/vnu.jar ] && return 0
    command -v npm >/dev/null 2>&1 || return 0
    echo "Installing the Nu HTML Checker (vnu-jar) into tests/tools/..."
    npm ci --prefix tests/tools --ignore-scripts --no-audit --no-fund --loglevel=error
}

if [ -z "$missing" ]; then
    checker || { [ "${CI:-}" = "true" ] && exit 1; }
    exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's$missing for the tests..."
    # shellcheck disable=SC2086
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; then
        checker && exit 0
    fi
fi
echo "Missing for the tests:$missing." >&2
echo "Install with: sudo apt-get install$missing   (or set OV_CHROMIUM to Chromium's path)" >&2
if [ "${CI:-}" = "true" ]; then
    exit 1
fi
echo "Continuing: the tests that need them will be reported as skipped." >&2
exit 0
