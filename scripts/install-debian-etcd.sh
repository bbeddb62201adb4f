#!/bin/sh
# Installs Debian's etcd 3.4 (etcd-server, etcd-client) when it is missing and
# this machine can (root with apt-get). Otherwise says what to do: the tests
# then skip etcd 3.4 locally (CI installs it and requires it).
set -eu
if [ -x /usr/bin/etcd ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's etcd-server and etcd-client (etcd 3.4) ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
    exit 0
fi
echo "note: etcd 3.4 is not installed (sudo apt-get install etcd-server etcd-client);" >&2
echo "      the etcd 3.4 half of the tests will be skipped." >&2
