#include "controller/api.h"

const struct api_route api_users_routes[] = {
	{0},
};
