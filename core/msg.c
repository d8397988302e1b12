#include "fcore/msg.h"

#include <arpa/inet.h>
#include <string.h>

#include "fcore/arena.h"

bool
envelope_set_ip(struct envelope *env, struct arena *a, const char *ip)
{
	struct in_addr v4;
	env->ip = NULL;
	env->ip_valid = false;
	if (ip == NULL || *ip == '\0')
		return false;
	const char *s = ip;
	size_t len = strlen(s);
	char tmp[INET6_ADDRSTRLEN + 8];
	if (s[0] == '[' && len > 2 && s[len - 1] == ']') {
		if (len - 2 >= sizeof(tmp))
			return false;
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		s = tmp;
	}
	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	if (inet_pton(AF_INET, s, &v4) == 1) {
		memset(&env->ip_addr, 0, sizeof(env->ip_addr));
		env->ip_addr.s6_addr[10] = 0xff;
		env->ip_addr.s6_addr[11] = 0xff;
		memcpy(&env->ip_addr.s6_addr[12], &v4, 4);
		env->ip_is_v4 = true;
	} else if (inet_pton(AF_INET6, s, &env->ip_addr) == 1) {
		env->ip_is_v4 = IN6_IS_ADDR_V4MAPPED(&env->ip_addr);
	} else {
		return false;
	}
	char out[INET6_ADDRSTRLEN];
	if (env->ip_is_v4)
		inet_ntop(AF_INET, &env->ip_addr.s6_addr[12], out, sizeof(out));
	else
		inet_ntop(AF_INET6, &env->ip_addr, out, sizeof(out));
	env->ip = arena_strdup(a, out);
	env->ip_valid = env->ip != NULL;
	return env->ip_valid;
}

void
envelope_add_rcpt(struct envelope *env, struct arena *a, const char *rcpt)
{
	const char **n = arena_realloc(a, (void *)env->rcpt, env->nrcpt * sizeof(*n),
	    (env->nrcpt + 1) * sizeof(*n));
	if (n == NULL)
		return;
	env->rcpt = n;
	n[env->nrcpt] = rcpt;
	env->nrcpt++;
}

const char *
envelope_clean_addr(struct arena *a, const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++;
		len -= 2;
	}
	return arena_strndup(a, s, len);
}
