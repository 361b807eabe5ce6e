#!/bin/sh
# Debian ships Python without the venv module (package python3-venv): add it when we can.
python="${1:-python3}"
if "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    exit 0
fi
version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's python${version}-venv (needed for the virtual environment)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${version}-venv"
    exit $?
fi
echo "Python's venv module is missing. Install it with: sudo apt-get install python${version}-venv" >&2
exit 1
