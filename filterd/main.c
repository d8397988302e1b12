/*
 * main.c - command line: the daemon, --check-config, and the offline
 * subcommands (scan, mime, rules, learn).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/cfg.h"
#include "fcore/log.h"
#include "offline.h"
#include "parent.h"
#include "version.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: filterd [--config FILE] [--check-config]     run the daemon (foreground)\n"
	    "       filterd [--config FILE] scan [-d user] [-i ip] [-F from] [-r rcpt] FILE|DIR...\n"
	    "       filterd [--config FILE] mime FILE\n"
	    "       filterd [--config FILE] rules [--list]\n"
	    "       filterd [--config FILE] learn --spam|--ham [-d user] [--batch N] [-v] FILE|DIR...\n"
	    "       filterd --version\n");
}

int
main(int argc, char **argv)
{
	const char *config = NULL;
	bool check = false;
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	/* "+": stop at the first non-option so subcommands parse their own. */
	while ((ch = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'C': check = true; break;
		case 'V': printf("filterd %s\n", filterd_version()); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_init("filterd", LOG_LVL_INFO);
	char err[1024];
	struct fconf *cfg = config ? cfg_load(config, err, sizeof(err)) : cfg_defaults();
	if (cfg == NULL) {
		fprintf(stderr, "filterd: %s\n", err);
		return 1;
	}
	int level = log_level_parse(cfg->log_level);
	if (level >= 0)
		log_set_level((enum log_level)level);
	if (check) {
		printf("%s: OK\n", config ? config : "embedded defaults");
		cfg_free(&cfg);
		return 0;
	}
	int rc;
	if (optind < argc && strcmp(argv[optind], "scan") == 0)
		rc = offline_scan_main(cfg, argc - optind, argv + optind);
	else if (optind < argc && strcmp(argv[optind], "mime") == 0)
		rc = offline_mime_main(cfg, argc - optind, argv + optind);
	else if (optind < argc && strcmp(argv[optind], "rules") == 0)
		rc = offline_rules_main(cfg, argc - optind, argv + optind);
	else if (optind < argc && strcmp(argv[optind], "learn") == 0)
		rc = offline_learn_main(cfg, argc - optind, argv + optind);
	else if (optind < argc) {
		fprintf(stderr, "filterd: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		rc = 2;
	} else {
		log_info("filterd %s starting (%s)", filterd_version(), config ? config : "embedded defaults");
		return parent_main(cfg, config);
	}
	cfg_free(&cfg);
	return rc;
}
