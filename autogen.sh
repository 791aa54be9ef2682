#!/bin/sh
# SPDX-License-Identifier: MIT
# Generate ./configure. With --deps, first install what is missing to build
# and test baton on Debian (as root, or through sudo).
set -e
cd "$(dirname "$0")"
if [ "${1:-}" = "--deps" ]; then
	pkgs="build-essential autoconf automake libtool pkg-config libjemalloc-dev libnuma-dev check libck-dev libzmq3-dev"
	missing=""
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		sudo=""
		[ "$(id -u)" -eq 0 ] || sudo="sudo"
		echo "autogen.sh: installing$missing"
		$sudo apt-get update -q
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
	fi
fi
autoreconf --install --force
