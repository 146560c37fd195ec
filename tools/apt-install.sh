#!/bin/sh
# tools/apt-install.sh WHY PACKAGE...
#
# Installs Debian packages for the Makefile, saying first what and why. As root it
# runs apt-get; otherwise sudo, only when sudo needs no password. It never asks for
# anything (no password prompt, apt-get -y, stdin closed): `make demo` and CI run it
# unattended. Exit status: 0 installed; 2 not installed, explained (not root, no
# password-less sudo, no apt-get); 1 apt-get failed. APT_RETRIES and
# APT_RETRY_SECONDS: attempts while another apt holds its lock (6, 10 s apart).
set -u
why=$1
shift
echo "Needed for $why: $* (Debian packages)."
if ! command -v apt-get >/dev/null 2>&1; then
    echo "  Not installed: there is no apt-get here (not Debian or Ubuntu). Install $* yourself."
    exit 2
fi
if [ "$(id -u)" = 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true </dev/null >/dev/null 2>&1; then
    run="sudo -n"
elif command -v sudo >/dev/null 2>&1; then
    echo "  Not installed: installing needs root, and sudo would ask for a password here."
    echo "  To install them, as root: apt-get install $*"
    exit 2
else
    echo "  Not installed: installing needs root (and there is no sudo here)."
    echo "  To install them, as root: apt-get install $*"
    exit 2
fi
echo "  Installing them with ${run:+$run }apt-get…"
tries=${APT_RETRIES:-6}
try=1
while :; do
    if $run apt-get update -qq </dev/null >/dev/null \
        && $run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null >/dev/null; then
        exit 0
    fi
    if [ "$try" -ge "$tries" ]; then
        echo "  apt-get could not install $* (see its messages above)."
        exit 1
    fi
    echo "  apt is busy or failed, retrying…"
    sleep "${APT_RETRY_SECONDS:-10}"
    try=$((try + 1))
done
