#include "controller/api.h"

const struct api_route api_relays_routes[] = {
	{0},
};
