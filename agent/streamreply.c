/* The proxies' answers to a stream's outcome: see streamreply.h. */
#include "agent/streamreply.h"

#include "agent/socks5.h"
#include "agent/streamhdr.h"
#include "agent/streams.h"

uint8_t streamreply_socks5(int code)
{
	switch (code) {
	case STREAMS_REPLY_OK:
		return SOCKS5_OK;
	case STREAM_ERR_DENIED:
		return SOCKS5_NOT_ALLOWED;
	case STREAM_ERR_REFUSED:
		return SOCKS5_REFUSED;
	case STREAM_ERR_TARGET:
	case STREAMS_REPLY_TIMEOUT:
		return SOCKS5_HOST_UNREACHABLE;
	default:
		return SOCKS5_FAILURE;
	}
}

int streamreply_http(int code)
{
	switch (code) {
	case STREAMS_REPLY_OK:
		return 200;
	case STREAM_ERR_DENIED:
		return 403;
	case STREAM_ERR_LIMIT:
		return 503;
	case STREAMS_REPLY_TIMEOUT:
		return 504;
	default:
		return 502;
	}
}
