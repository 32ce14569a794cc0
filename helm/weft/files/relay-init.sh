#!/bin/sh
# The relay pod's init step (helm/weft, docs/deploy.md): waits for the
# controller, saves its relay-token public key for weft-relay
# --controller-key and, when RELAY_ADDRESS is set, registers the relay
# (name, region, address, pin) through the REST API, creating it or
# updating the entry of that name, so no one runs `relays set` by hand.
# Environment:
#   WEFT_URL          controller base URL (https://... or http://...)
#   WEFT_API_KEY_FILE file holding an admin API key (weft_api_...)
#   WEFT_CA           CA bundle for an https controller (optional)
#   RELAY_KEY         the relay's Ed25519 key (PKCS#8 PEM)
#   RELAY_NAME, RELAY_REGION, RELAY_ADDRESS (host:port agents use)
#   OUT               where the controller key goes
# Needs curl, jq and openssl (all in the Weft image).
set -eu

say() { echo "relay-init: $*" >&2; }
die() { say "$*"; exit 1; }

: "${WEFT_URL:?}" "${RELAY_KEY:?}" "${OUT:?}"
ca=
[ -n "${WEFT_CA:-}" ] && [ -f "${WEFT_CA}" ] && ca="--cacert ${WEFT_CA}"

# curl_api METHOD PATH [BODY]: prints the body; fails on an HTTP error with
# the controller's JSON error in the message.
curl_api() {
	resp=$(curl -sS $ca -X "$1" -H "Authorization: Bearer $key" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} \
		-w '\n%{http_code}' "$WEFT_URL$2") || die "$1 $2: no answer"
	code=$(printf '%s\n' "$resp" | tail -n 1)
	body=$(printf '%s\n' "$resp" | sed '$d')
	case $code in
	2??) printf '%s\n' "$body" ;;
	*) die "$1 $2: HTTP $code: $body" ;;
	esac
}

curl -fsS $ca --retry 60 --retry-delay 2 --retry-all-errors -o /dev/null \
	"$WEFT_URL/readyz" || die "the controller at $WEFT_URL is not ready"
curl -fsS $ca --retry 5 --retry-all-errors -o "$OUT.tmp" \
	"$WEFT_URL/api/v1/relay-key" || die "GET /api/v1/relay-key failed"
mv "$OUT.tmp" "$OUT"
say "saved the controller key to $OUT"

[ -n "${RELAY_ADDRESS:-}" ] || { say "RELAY_ADDRESS is empty: not registering"; exit 0; }
: "${WEFT_API_KEY_FILE:?}" "${RELAY_NAME:?}" "${RELAY_REGION:?}"
key=$(tr -d ' \n\r\t' < "$WEFT_API_KEY_FILE")
# The pin: base64 of the raw 32-byte Ed25519 public key, the last 32
# bytes of its DER SubjectPublicKeyInfo.
pin=$(openssl pkey -in "$RELAY_KEY" -pubout -outform DER | tail -c 32 | base64)
[ ${#pin} -eq 44 ] || die "$RELAY_KEY is not an Ed25519 key"

# The id of the relay called RELAY_NAME, following the pages.
find_id() {
	cursor=
	while :; do
		page=$(curl_api GET "/api/v1/relays?limit=1000${cursor:+&cursor=$cursor}")
		id=$(printf '%s' "$page" | jq -r --arg n "$RELAY_NAME" \
			'.items[] | select(.name == $n) | .id')
		[ -n "$id" ] && { echo "$id"; return 0; }
		cursor=$(printf '%s' "$page" | jq -r '.next_cursor // empty | @uri')
		[ -n "$cursor" ] || return 0
	done
}

fields=$(jq -cn --arg r "$RELAY_REGION" --arg a "$RELAY_ADDRESS" --arg p "$pin" \
	'{region: $r, address: $a, public_key_pin: $p}')
for attempt in 1 2 3; do
	id=$(find_id)
	if [ -n "$id" ]; then
		curl_api PATCH "/api/v1/relays/$id" "$fields" >/dev/null
		say "updated relay $RELAY_NAME (id $id): $RELAY_ADDRESS pin $pin"
		exit 0
	fi
	body=$(printf '%s' "$fields" | jq -c --arg n "$RELAY_NAME" '. + {name: $n}')
	# Another pod may create it at the same moment (409): look again.
	if (curl_api POST /api/v1/relays "$body" >/dev/null); then
		say "registered relay $RELAY_NAME: $RELAY_ADDRESS pin $pin"
		exit 0
	fi
	say "attempt $attempt failed; trying again"
	sleep 1
done
die "could not register relay $RELAY_NAME"
