/* policy_narrow: what a rule gives a resource once the resource's filters
 * narrow it (see policy.h). Shared by the policy's own tests block and the
 * network-map engine, so both judge a resource the same way. */
#include "controller/policy.h"

int policy_narrow(enum policy_proto proto, const struct policy_ports *ports,
		  size_t nports, const struct policy_filter *f, size_t nf,
		  policy_grant_fn grant, void *ctx)
{
	static const struct policy_ports all = {0, 65535};
	int n = 0, rc;

	if (!nports) {
		ports = &all;
		nports = 1;
	}
	if (!nf) {
		for (size_t i = 0; i < nports; i++, n++)
			if ((rc = grant(ctx, proto, ports[i].lo, ports[i].hi)))
				return rc;
		return n;
	}
	for (size_t k = 0; k < nf; k++) {
		const struct policy_ports *fp = f[k].nports ? f[k].ports : &all;
		size_t nfp = f[k].nports ? f[k].nports : 1;

		if (proto != POLICY_ANY && proto != f[k].proto)
			continue;
		if (f[k].proto == POLICY_ICMP) {
			if ((rc = grant(ctx, POLICY_ICMP, 0, 65535)))
				return rc;
			n++;
			continue;
		}
		for (size_t i = 0; i < nports; i++) {
			for (size_t j = 0; j < nfp; j++) {
				uint16_t lo = ports[i].lo > fp[j].lo ?
					ports[i].lo : fp[j].lo;
				uint16_t hi = ports[i].hi < fp[j].hi ?
					ports[i].hi : fp[j].hi;

				if (lo > hi)
					continue;
				if ((rc = grant(ctx, f[k].proto, lo, hi)))
					return rc;
				n++;
			}
		}
	}
	return n;
}
