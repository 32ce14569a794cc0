#include "controller/api.h"

const struct api_route api_audit_routes[] = {
	{0},
};
