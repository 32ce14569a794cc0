#include "controller/api.h"

const struct api_route api_register_routes[] = {
	{0},
};
