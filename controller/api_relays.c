/* /api/v1/relays: the QUIC relays agents use when no direct path exists.
 *
 * The relay list is part of every network map, so each change bumps the
 * netmap version. IP addresses in `address` are stored canonically
 * ("[2001:db8::1]:443"); host names are kept as written. */
#include "controller/api.h"

#include "controller/valid.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/jsonx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION_MAX 63
#define ADDRESS_MAX (VALID_DNS_NAME_MAX + 6) /* name ":" 65535 */
#define PIN_MAX (STORE_PIN_SIZE - 1)

/* --- validation --- */

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool valid_region(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > REGION_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* "1.2.3.4:443", "[2001:db8::1]:443" or "relay.example.com:443" (port
 * 1..65535, no leading zero) into its canonical text. */
static int normalize_address(const char *s, char *out, size_t cap)
{
	struct ip_endpoint ep;
	const char *colon = strrchr(s, ':');
	const char *p;
	long port = 0;

	if (!colon)
		return WEFT_ERR_INVAL;
	if (ip_endpoint_parse(s, &ep) == 0)
		return ip_endpoint_format(&ep, out, cap) < 0 ? WEFT_ERR_INVAL :
							       0;
	if (!valid_dns_name(s, (size_t)(colon - s)))
		return WEFT_ERR_INVAL;
	p = colon + 1;
	if (*p < '1' || *p > '9')
		return WEFT_ERR_INVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return WEFT_ERR_INVAL;
		port = port * 10 + (*p - '0');
		if (port > 65535)
			return WEFT_ERR_INVAL;
	}
	if (strlen(s) >= cap)
		return WEFT_ERR_INVAL;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* Printable ASCII without spaces, e.g. "sha256/<base64>". */
static bool valid_pin(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

static json_t *relay_json(const struct store_relay *r)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}",
			 "id", (json_int_t)r->id,
			 "name", r->name,
			 "region", r->region,
			 "address", r->address,
			 "public_key_pin", api_str_json(r->public_key_pin),
			 "created_at", api_time_json(r->created_at));
}

/* --- handlers --- */

struct relay_in {
	const char *name, *region, *address, *pin;
	bool has_name, has_region, has_address, has_pin;
};

/* Parses the body (name only on create) into in; on failure fills the 400
 * answer and returns NULL. The caller json_decref()s the body (in borrows
 * from it). */
static json_t *read_relay(struct api_call *c, bool create, void *vin)
{
	struct relay_in *in = vin;
	const struct jsonx_field fields[] = {
		{"name", JSONX_STRING, true, 1, VALID_NAME_MAX, 0, &in->name,
		 &in->has_name},
		{"region", JSONX_STRING, create, 1, REGION_MAX, 0, &in->region,
		 &in->has_region},
		{"address", JSONX_STRING, create, 1, ADDRESS_MAX, 0,
		 &in->address, &in->has_address},
		{"public_key_pin", JSONX_STRING, false, 0, PIN_MAX, 0, &in->pin,
		 &in->has_pin},
	};
	const size_t n = sizeof(fields) / sizeof(fields[0]);

	/* The name is set once, at creation: PATCH leaves it out. */
	return create ? api_read_body(c, fields, n) :
			api_read_body(c, fields + 1, n - 1);
}

/* Validates in and applies it to r; on failure fills msg and *field. */
static int apply(struct store_tx *tx, const void *vin, void *row, char *msg,
		 size_t msglen, const char **field)
{
	const struct relay_in *in = vin;
	struct store_relay *r = row;

	(void)tx;
	if (in->has_name) {
		*field = "name";
		if (!valid_name(in->name)) {
			snprintf(msg, msglen,
				 "name must be 1 to 63 of a-z 0-9 . _ -, "
				 "starting with a letter or digit");
			return WEFT_ERR_INVAL;
		}
		snprintf(r->name, sizeof(r->name), "%s", in->name);
	}
	if (in->has_region) {
		*field = "region";
		if (!valid_region(in->region)) {
			snprintf(msg, msglen, "region must be 1 to 63 of a-z 0-9 -");
			return WEFT_ERR_INVAL;
		}
		snprintf(r->region, sizeof(r->region), "%s", in->region);
	}
	if (in->has_address) {
		*field = "address";
		if (normalize_address(in->address, r->address,
				      sizeof(r->address)) < 0) {
			snprintf(msg, msglen,
				 "address must be host:port with an IPv4 "
				 "address, [IPv6] address or DNS name and a "
				 "port from 1 to 65535");
			return WEFT_ERR_INVAL;
		}
	}
	if (in->has_pin) {
		*field = "public_key_pin";
		if (!valid_pin(in->pin)) {
			snprintf(msg, msglen,
				 "public_key_pin must be printable ASCII "
				 "without spaces, e.g. sha256/<base64>");
			return WEFT_ERR_INVAL;
		}
		snprintf(r->public_key_pin, sizeof(r->public_key_pin), "%s",
			 in->pin);
	}
	*field = NULL;
	return 0;
}

/* A new relay's name must be free; PATCH cannot change it. */
static int save(struct store_tx *tx, void *row, bool create, int64_t now,
		char *msg, size_t msglen, const char **field)
{
	struct store_relay *r = row, other;
	int rc;

	if (!create)
		return store_relay_update(tx, r);
	r->created_at = now;
	rc = store_relay_get_by_name(tx, r->name, &other);
	if (rc == 0)
		rc = WEFT_ERR_EXISTS;
	else if (rc == WEFT_ERR_NOTFOUND)
		rc = store_relay_create(tx, r);
	if (rc == WEFT_ERR_EXISTS) {
		*field = "name";
		snprintf(msg, msglen, "a relay named %s exists", r->name);
	}
	return rc;
}

static int get(struct store_tx *tx, int64_t id, void *row)
{
	return store_relay_get(tx, id, row);
}

/* A pin is public (it is sent to every agent), so the answer is the audit
 * detail. */
static json_t *row_json(const void *row)
{
	return relay_json(row);
}

static int64_t row_id(const void *row)
{
	return ((const struct store_relay *)row)->id;
}

static const struct api_edit relay_edit = {
	"relay", read_relay, get, apply, save, row_json, row_id,
};

static void h_create_relay(struct api_call *c)
{
	struct relay_in in = {0};
	struct store_relay r = {0};

	api_edit_row(c, &relay_edit, true, &in, &r);
}

static int collect(void *ctx, const struct store_relay *r)
{
	json_t *o = relay_json(r);

	if (!o || json_array_append_new(ctx, o) < 0)
		return WEFT_ERR_NOMEM;
	return 0;
}

static int list_relays(struct store_tx *tx, const void *filter,
		      const struct store_page *pg, json_t *items, int64_t *next)
{
	(void)filter;
	return store_relay_list(tx, pg, collect, items, next);
}

static void h_list_relays(struct api_call *c)
{
	struct store_page pg;

	if (!api_page(c, &pg))
		return;
	api_list(c, &pg, list_relays, NULL);
}

static int load_relay(struct api_call *c, struct store_tx *tx, int64_t id,
		json_t **out)
{
	struct store_relay r;
	int rc = store_relay_get(tx, id, &r);

	(void)c;
	if (rc == 0)
		*out = relay_json(&r);
	return rc;
}

static void h_get_relay(struct api_call *c)
{
	api_get_by_id(c, "relay", load_relay);
}

static void h_patch_relay(struct api_call *c)
{
	struct relay_in in = {0};
	struct store_relay r;

	api_edit_row(c, &relay_edit, false, &in, &r);
}

static int remove_relay(struct store_tx *tx, int64_t id, char *name,
		size_t cap, char *msg, size_t msglen)
{
	struct store_relay r;
	int rc = store_relay_get(tx, id, &r);

	(void)msg;
	(void)msglen;
	if (rc == 0)
		rc = store_relay_delete(tx, id);
	if (rc == 0)
		snprintf(name, cap, "%s", r.name);
	return rc;
}

static void h_delete_relay(struct api_call *c)
{
	api_delete_by_id(c, "relay", "relay.delete", remove_relay);
}

const struct api_route api_relays_routes[] = {
	{"POST", "/api/v1/relays", API_AUTH_ADMIN, h_create_relay},
	{"GET", "/api/v1/relays", API_AUTH_ADMIN, h_list_relays},
	{"GET", "/api/v1/relays/{id}", API_AUTH_ADMIN, h_get_relay},
	{"PATCH", "/api/v1/relays/{id}", API_AUTH_ADMIN, h_patch_relay},
	{"DELETE", "/api/v1/relays/{id}", API_AUTH_ADMIN, h_delete_relay},
	{0},
};
