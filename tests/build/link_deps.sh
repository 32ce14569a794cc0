#!/bin/sh
# link_deps.sh BINARY LINK_LINE LIB...
# Fails when BINARY links a library it does not use: when its dynamic
# section has a NEEDED entry lib<LIB>.so*, or when LINK_LINE (CMake's
# link.txt for the target, "-" when the generator has none) names
# lib<LIB>.so. The link line matters because Debian's compilers link with
# --as-needed, which hides a needless library from the NEEDED entries;
# linkers elsewhere keep it.
set -eu
bin=$1
line=$2
shift 2
[ -x "$bin" ] || { echo "not found: $bin"; exit 1; }
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "no NEEDED entries in $bin (readelf failed?)"; exit 1; }
fail=0
for lib in "$@"; do
	if printf '%s\n' "$needed" | grep -q "^lib$lib\.so"; then
		echo "$bin: NEEDED lib$lib"
		fail=1
	fi
	if [ "$line" != - ] && grep -q "lib$lib\.so\|-l$lib\b" "$line"; then
		echo "$bin: link line names lib$lib ($line)"
		fail=1
	fi
done
[ $fail = 0 ] && echo "ok: $bin links none of: $*"
exit $fail
