/*
 * cfg - the configuration: one struct, one table of defaults, read-only after
 * load.
 *
 * Every key is optional; with no file at all cfg_defaults() gives a daemon
 * that listens on 127.0.0.1 only. cfg_load() parses a YAML file (libfyaml);
 * unknown keys, wrong types and out-of-range values fail with
 * "file:line: reason" in err. A loaded config owns all its strings (one arena)
 * and is freed whole by cfg_free(); a reload builds a new one and swaps.
 */
#ifndef FCORE_CFG_H
#define FCORE_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcore/result.h"

struct arena;

struct cfg_strlist {
	const char **v;
	size_t n;
};

enum cfg_on_error { CFG_ON_ERROR_TEMPFAIL, CFG_ON_ERROR_ACCEPT, CFG_ON_ERROR_REJECT };

struct cfg_rbl_code {
	const char *symbol;
	const char *pattern;   /* returncodes: address or Lua-style pattern */
	uint32_t bits;         /* returnbits: mask (pattern NULL) */
	bool weighted;         /* weight given in the zone (long form) */
	double weight;
};

struct cfg_rbl_zone {
	const char *symbol;    /* base symbol */
	const char *zone;      /* DNS suffix */
	struct cfg_strlist checks; /* from, received, helo, urls, emails, dkim ... */
	bool ipv4;
	bool ipv6;
	bool unknown;          /* unmatched answer still inserts symbol */
	bool enabled;
	double weight;         /* weight of the base symbol; default 1, or 0 with codes */
	struct cfg_rbl_code *codes;
	size_t ncodes;
};

struct cfg_symbol_override {
	const char *name;
	double weight;
	const char *description; /* NULL keeps */
	const char *group;       /* NULL keeps */
};

struct fconf {
	struct arena *arena;       /* owns everything below */
	const char *path;          /* file loaded, NULL for embedded defaults */
	char hash[17];             /* hex of a hash of the file's bytes ("config_id") */

	unsigned workers;          /* 0 = one per core */
	const char *state_dir;
	const char *log_level;
	const char *server_name;   /* X-Rspamd-Server, authserv-id; default: hostname */

	struct { struct cfg_strlist listen; bool enable_test_patterns; } scan;
	struct {
		struct cfg_strlist listen;
		const char *password;        /* read-only; "" = none */
		const char *enable_password; /* privileged; "" = none */
		struct cfg_strlist secure_ip; /* trusted without password */
		const char *static_dir;      /* web console files */
	} controller;
	struct {
		struct cfg_strlist listen;
		enum cfg_on_error on_error;
		enum cfg_on_error on_oversize;
		const char *reject_message;  /* SMTP text for reject; %s = reason */
		const char *tempfail_message;
		bool skip_authenticated_headers;
		const char *spam_header;     /* "X-Spam" */
		const char *multi_rcpt;      /* "first" or "each" */
	} milter;

	struct action_thresholds actions;
	const char *subject_template; /* rewrite subject: "*** SPAM *** %s" */

	struct {
		uint64_t max_message;
		unsigned mime_depth;
		unsigned mime_parts;
		unsigned header_lines;
		uint64_t header_size;
		uint64_t boundary;
		unsigned urls;
		uint64_t http_headers;
		uint64_t milter_packet;
		uint64_t controller_preauth;
		double task_timeout;   /* seconds */
		double dns_timeout;
		double io_timeout;     /* a stalled client is dropped after this */
		unsigned max_connections; /* per worker */
		uint64_t task_memory;  /* per-task arena budget */
		uint32_t pcre_match_limit;
		uint32_t pcre_depth_limit;
		uint64_t lua_instructions;
	} limits;

	struct {
		bool enabled;
		struct cfg_strlist paths;  /* empty (default): the shipped rules */
		struct cfg_strlist local;  /* admin's own .cf, loaded last */
		bool cache;                /* Hyperscan database cache */
		const char *cache_dir;     /* where the cache lives; NULL = state_dir */
	} rules;

	struct {
		bool enabled;
		const char *backend;    /* "sqlite" */
		const char *db;         /* default: <state_dir>/bayes.sqlite (always set after load) */
		unsigned min_learns;
		bool per_user;
		bool learn_global;      /* a per-user learn also updates the global store */
		uint64_t max_tokens;
		unsigned min_tokens;
		unsigned window;        /* OSB window */
		bool header_tokens;
		bool snapshot;          /* readers map <db>.snap (stats/snapshot.h) */
	} stats;

	struct {
		bool enabled;
		const char *resolver;   /* "host:port" or path of resolv.conf */
		double timeout;
		bool received;          /* also check IPs of untrusted Received hops */
		struct cfg_strlist trusted_networks;
		struct cfg_rbl_zone *zones;
		size_t nzones;
	} rbl;

	struct {
		bool enabled;
		const char *mode;       /* "score" | "always" */
		const char *db;         /* default: <state_dir>/greylist.sqlite (always set after load) */
		double delay;           /* seconds */
		double retry_window;
		double expire;
		unsigned auto_whitelist;
		unsigned ipv4_mask;
		unsigned ipv6_mask;
		const char *message;
		int64_t clock_offset;   /* tests: added to time(NULL) */
	} greylist;

	struct cfg_symbol_override *symbols;
	size_t nsymbols;
};

/* Embedded defaults. Never fails (allocation failure exits). */
struct fconf *cfg_defaults(void);
/*
 * Loads path over the defaults. NULL on error with "file:line: key.path:
 * reason" in err (or "file: cannot open: ..." when it cannot be read); err
 * may be NULL. The keys, types and ranges are in docs/config.md. Relative
 * paths in the file are kept as written (relative to the working directory).
 */
struct fconf *cfg_load(const char *path, char *err, size_t errlen);
/* Same, from a buffer of len bytes (no terminator needed); name is used in
 * error messages and as ->path. */
struct fconf *cfg_load_buffer(const char *name, const char *data, size_t len, char *err, size_t errlen);
void cfg_free(struct fconf **cp);

/* "50M", "64k", "1024" -> bytes (k/M/G are powers of 1024); false if
 * malformed or overflowing. The whole string must be the value. */
bool cfg_parse_size(const char *s, uint64_t *out_r);
/* "8s", "500ms", "5m", "2h", "1d", "2.5" -> seconds; false if malformed
 * or negative. */
bool cfg_parse_duration(const char *s, double *out_r);

#endif
