#!/bin/sh
# ctest openapi_valid: validates docs/api/openapi.yaml with
# @apidevtools/swagger-parser (OpenAPI 3.0 schema + $ref resolution).
# scripts/deps.sh test installs the validator with `npm ci` from
# package-lock.json; a missing validator is a failure, not a skip.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
doc=${1:-$here/../../docs/api/openapi.yaml}
if ! command -v node >/dev/null 2>&1; then
	echo "openapi: node is not installed (scripts/deps.sh test)" >&2
	exit 1
fi
if [ ! -d "$here/node_modules/@apidevtools/swagger-parser" ]; then
	echo "openapi: validator missing; run scripts/deps.sh test" \
	     "(npm ci in tests/openapi)" >&2
	exit 1
fi
exec node "$here/validate.js" "$doc"
