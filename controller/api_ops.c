#include "controller/api.h"

const struct api_route api_ops_routes[] = {
	{0},
};
