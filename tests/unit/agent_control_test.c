/* The control client's rules for the controller URL (agent/control.c,
 * control_check_url, on agent/httpmsg.c's URL parser). */
#include "check.h"
#include "agent/control.h"
#include "shared/err.h"

static void https_and_loopback_http_are_accepted(void)
{
	static const char *const ok[] = {
		"https://ctl.example.com",  "https://ctl.example.com/",
		"https://10.0.0.1:8443",    "https://[2001:db8::1]:443",
		"http://127.0.0.1:8080",    "http://127.1.2.3",
		"http://localhost:8080/",   "http://LOCALHOST",
		"http://[::1]:8080",
	};
	bool plain = true;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		plain = true;
		check_report(control_check_url(ok[i], false, &plain) == 0 &&
				     !plain,
			     __FILE__, __LINE__, "refused %s", ok[i]);
	}
	CHECK_INT(control_check_url("https://h", false, NULL), 0);
}

static void plain_http_elsewhere_needs_insecure_http(void)
{
	bool plain = false;

	CHECK_INT(control_check_url("http://ctl.example.com", false, &plain),
		  WEFT_ERR_FORBIDDEN);
	CHECK_INT(control_check_url("http://10.0.0.1:8080", false, NULL),
		  WEFT_ERR_FORBIDDEN);
	/* 127.x only as a dotted quad, not as a name that starts so */
	CHECK_INT(control_check_url("http://127.0.0.1.evil.example", false,
				    NULL), WEFT_ERR_FORBIDDEN);
	CHECK_INT(control_check_url("http://ctl.example.com", true, &plain),
		  0);
	CHECK(plain);
}

static void urls_with_more_than_a_host_are_refused(void)
{
	static const char *const bad[] = {
		"https://h/api",         "https://h/?a=1",
		"https://h?a=1",         "https://u@h",
		"https://u:p@h/",        "https://h/#f",
		"https://h#f",           "ftp://h",
		"https://",              "https://h:99999",
		"ctl.example.com",       "",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_report(control_check_url(bad[i], true, NULL) ==
				     WEFT_ERR_INVAL,
			     __FILE__, __LINE__, "accepted \"%s\"", bad[i]);
}

static const struct check_case cases[] = {
	CHECK_CASE(https_and_loopback_http_are_accepted),
	CHECK_CASE(plain_http_elsewhere_needs_insecure_http),
	CHECK_CASE(urls_with_more_than_a_host_are_refused),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
