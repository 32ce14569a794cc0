#include "controller/api.h"

const struct api_route api_keys_routes[] = {
	{0},
};
