#!/usr/bin/env bash
# `make tools`: the rrelay tool as a static (musl) binary, which runs in the
# test guest's initramfs as is and on any x86-64 Linux; prints its path.
# The guest build (scripts/build-guest.sh) copies it to /opt/bin/rrelay.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

(cd "$RRELAY_ROOT" && cargo build --release --quiet --target x86_64-unknown-linux-musl -p rrelay-tools)
echo "$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/rrelay"
