#!/usr/bin/env bash
# Builds and starts Redust with sensible defaults (port 6379, loopback only),
# passing any redis.conf path and --directive value pairs through.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin redust-server
exec ./target/release/redust-server "$@"
