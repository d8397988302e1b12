#!/bin/sh
# Rewrites the expected JSON of every golden message. Review `git diff`
# before committing: the expected files must be right, not just current.
set -e
build=${1:?usage: update.sh BUILD_DIR}
dir=$(dirname "$0")/mime
for eml in "$dir"/*.eml; do
	"$build"/tests/golden/mime_dump "$eml" > "${eml%.eml}.json"
done
