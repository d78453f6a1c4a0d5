/* SPDX-License-Identifier: Apache-2.0 */
/* audit_cli_run.h - run `toolgate audit ARGS...` in-process (the test
 * includes cli/cmd_audit.c) with stdout and stderr captured into out and
 * errb, through files in the test's temporary directory (tempdir.h, which
 * comes first). Header-only for tests. */
#ifndef TG_TEST_AUDIT_CLI_RUN_H
#define TG_TEST_AUDIT_CLI_RUN_H

#include <stdarg.h>
#include <unistd.h>

static char out[1 << 16], errb[1 << 16];

static void slurp(int fd, char *buf, size_t cap)
{
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* Run `toolgate audit ARGS...` (NULL-terminated); stdout in out, stderr in errb. */
static int run(const char *first, ...)
{
	char *argv[32] = {"audit"};
	int argc = 1;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	int so = dup(1), se = dup(2);
	_cleanup_free_ char *po = path_of("stdout"), *pe = path_of("stderr");
	int fo = open(po, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int fe = open(pe, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fo, 1);
	dup2(fe, 2);
	int rc = tg_cmd_audit(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	slurp(fo, out, sizeof(out));
	slurp(fe, errb, sizeof(errb));
	close(fo);
	close(fe);
	return rc;
}

#endif /* TG_TEST_AUDIT_CLI_RUN_H */
