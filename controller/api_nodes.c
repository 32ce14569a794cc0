#include "controller/api.h"

const struct api_route api_nodes_routes[] = {
	{0},
};
