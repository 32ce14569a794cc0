#include "shared/name.h"

#include <string.h>

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > NAME_MAX_LEN || !is_lower_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return false;
	return true;
}

bool name_valid_label(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > NAME_MAX_LEN || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool name_valid_domain(const char *s)
{
	char label[NAME_MAX_LEN + 1];
	size_t n = strlen(s), start = 0;

	if (n < 1 || n > NAME_DNS_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (i - start > NAME_MAX_LEN)
			return false;
		memcpy(label, s + start, i - start);
		label[i - start] = '\0';
		if (!name_valid_label(label))
			return false;
		start = i + 1;
	}
	return true;
}

bool name_under_domain(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n < d || strcmp(name + n - d, domain) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

bool name_valid_tag(const char *s)
{
	size_t plen = strlen(NAME_TAG_PREFIX);

	return strlen(s) <= NAME_TAG_MAX &&
	       strncmp(s, NAME_TAG_PREFIX, plen) == 0 && name_valid(s + plen);
}
