#!/bin/sh
# Every process of this container writes its Prometheus samples into PROMETHEUS_MULTIPROC_DIR; a
# (re)started container begins with an empty folder so that counters of a previous run do not linger.
set -e
if [ -n "$PROMETHEUS_MULTIPROC_DIR" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
exec "$@"
