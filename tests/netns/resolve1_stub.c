/* A stand-in for systemd-resolved on a test bus (dns_resolved_test.sh):
 * owns org.freedesktop.resolve1 on the bus in $DBUS_SYSTEM_BUS_ADDRESS,
 * implements the org.freedesktop.resolve1.Manager methods weft-agent
 * calls and prints each call as one JSON line on stdout, e.g.
 *   {"method":"SetLinkDomains","ifindex":5,"domains":[["weft.internal",false]]}
 *
 *   resolve1_stub [--fail METHOD[:N]]...
 *
 * --fail answers METHOD with an error (org.freedesktop.DBus.Error.Failed)
 * and still prints it, with "failed":true; with :N only its first N
 * calls. At most 4 --fail. Runs until SIGTERM/SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#define FAILS_MAX 4

/* What --fail asked: a method and how many more calls fail (-1: all). */
static struct {
	char method[64];
	long left;
} fails[FAILS_MAX];
static int nfails;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Prints s as a JSON string (the values here are names and addresses;
 * quotes and backslashes escaped, control bytes dropped). */
static void put_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

/* Ends the call's line and answers it. */
static int finish(sd_bus_message *m, const char *method, sd_bus_error *e)
{
	bool failing = false;

	for (int i = 0; i < nfails; i++)
		if (strcmp(method, fails[i].method) == 0 && fails[i].left) {
			failing = true;
			if (fails[i].left > 0)
				fails[i].left--;
		}

	printf("%s}\n", failing ? ",\"failed\":true" : "");
	fflush(stdout);
	if (failing)
		return sd_bus_error_set(e, SD_BUS_ERROR_FAILED,
					"told to fail by --fail");
	return sd_bus_reply_method_return(m, "");
}

static int begin(sd_bus_message *m, int32_t *ifindex)
{
	int rc = sd_bus_message_read(m, "i", ifindex);

	if (rc < 0)
		return rc;
	printf("{\"method\":");
	put_str(sd_bus_message_get_member(m));
	printf(",\"ifindex\":%d", (int)*ifindex);
	return 0;
}

static int set_dns(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	char a[INET6_ADDRSTRLEN];
	const void *b;
	int32_t ifindex, fam;
	size_t n;
	int rc, first = 1;

	(void)ud;
	if ((rc = begin(m, &ifindex)) < 0)
		return rc;
	printf(",\"servers\":[");
	rc = sd_bus_message_enter_container(m, 'a', "(iay)");
	while (rc >= 0 &&
	       (rc = sd_bus_message_enter_container(m, 'r', "iay")) > 0) {
		if ((rc = sd_bus_message_read(m, "i", &fam)) < 0 ||
		    (rc = sd_bus_message_read_array(m, 'y', &b, &n)) < 0)
			break;
		if ((fam == AF_INET && n == 4) || (fam == AF_INET6 && n == 16))
			inet_ntop(fam, b, a, sizeof(a));
		else
			snprintf(a, sizeof(a), "bad");
		printf("%s", first ? "" : ",");
		put_str(a);
		first = 0;
		rc = sd_bus_message_exit_container(m);
	}
	printf("]");
	if (rc < 0)
		return rc;
	return finish(m, "SetLinkDNS", e);
}

static int set_domains(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	const char *d;
	int32_t ifindex;
	int route, rc, first = 1;

	(void)ud;
	if ((rc = begin(m, &ifindex)) < 0)
		return rc;
	printf(",\"domains\":[");
	rc = sd_bus_message_enter_container(m, 'a', "(sb)");
	while (rc >= 0 && (rc = sd_bus_message_read(m, "(sb)", &d, &route)) > 0) {
		printf("%s[", first ? "" : ",");
		put_str(d);
		printf(",%s]", route ? "true" : "false");
		first = 0;
	}
	printf("]");
	if (rc < 0)
		return rc;
	return finish(m, "SetLinkDomains", e);
}

static int set_bool(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	int32_t ifindex;
	int v, rc;

	(void)ud;
	if ((rc = begin(m, &ifindex)) < 0 ||
	    (rc = sd_bus_message_read(m, "b", &v)) < 0)
		return rc;
	printf(",\"value\":%s", v ? "true" : "false");
	return finish(m, sd_bus_message_get_member(m), e);
}

static int set_str(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	const char *v;
	int32_t ifindex;
	int rc;

	(void)ud;
	if ((rc = begin(m, &ifindex)) < 0 ||
	    (rc = sd_bus_message_read(m, "s", &v)) < 0)
		return rc;
	printf(",\"value\":");
	put_str(v);
	return finish(m, sd_bus_message_get_member(m), e);
}

static int revert(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	int32_t ifindex;
	int rc;

	(void)ud;
	if ((rc = begin(m, &ifindex)) < 0)
		return rc;
	return finish(m, "RevertLink", e);
}

static const sd_bus_vtable manager[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("SetLinkDNS", "ia(iay)", "", set_dns, 0),
	SD_BUS_METHOD("SetLinkDomains", "ia(sb)", "", set_domains, 0),
	SD_BUS_METHOD("SetLinkDefaultRoute", "ib", "", set_bool, 0),
	SD_BUS_METHOD("SetLinkDNSOverTLS", "is", "", set_str, 0),
	SD_BUS_METHOD("SetLinkLLMNR", "is", "", set_str, 0),
	SD_BUS_METHOD("SetLinkMulticastDNS", "is", "", set_str, 0),
	SD_BUS_METHOD("SetLinkDNSSEC", "is", "", set_str, 0),
	SD_BUS_METHOD("RevertLink", "i", "", revert, 0),
	SD_BUS_VTABLE_END,
};

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sd_bus_slot *slot = NULL;
	sd_bus *bus = NULL;
	int rc;

	for (int i = 1; i < argc; i += 2) {
		char *colon;

		if (i + 1 >= argc || strcmp(argv[i], "--fail") != 0 ||
		    nfails == FAILS_MAX ||
		    strlen(argv[i + 1]) >= sizeof(fails[0].method)) {
			fprintf(stderr, "usage: resolve1_stub "
				"[--fail METHOD[:N]]...\n");
			return 2;
		}
		strcpy(fails[nfails].method, argv[i + 1]);
		colon = strchr(fails[nfails].method, ':');
		fails[nfails].left = -1;
		if (colon) {
			*colon = '\0';
			fails[nfails].left = strtol(colon + 1, NULL, 10);
		}
		nfails++;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rc = sd_bus_open_system(&bus);
	if (rc >= 0)
		rc = sd_bus_add_object_vtable(bus, &slot,
					      "/org/freedesktop/resolve1",
					      "org.freedesktop.resolve1.Manager",
					      manager, NULL);
	if (rc >= 0)
		rc = sd_bus_request_name(bus, "org.freedesktop.resolve1", 0);
	if (rc < 0) {
		fprintf(stderr, "resolve1_stub: %s\n", strerror(-rc));
		return 1;
	}
	fprintf(stderr, "resolve1_stub: ready\n");
	while (!stop) {
		rc = sd_bus_process(bus, NULL);
		if (rc < 0)
			break;
		if (rc == 0)
			rc = sd_bus_wait(bus, 200000);
		if (rc < 0 && rc != -EINTR)
			break;
	}
	sd_bus_slot_unref(slot);
	sd_bus_flush_close_unref(bus);
	return 0;
}
