#include "controller/api.h"

const struct api_route api_resources_routes[] = {
	{0},
};
