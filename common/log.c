/* SPDX-License-Identifier: Apache-2.0 */
/* Line-buffered, thread-safe logging to stderr. */
#include <pthread.h>
#include <string.h>

#include "tg.h"

static enum tg_log_level max_level = TG_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void tg_log_set_level(enum tg_log_level max)
{
	max_level = max;
}

void tg_log(enum tg_log_level level, const char *fmt, ...)
{
	if (level > max_level)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A journal prefix lets systemd keep the level; humans get a name. */
	bool journal = getenv("JOURNAL_STREAM") != NULL || getenv("TG_LOG_JOURNAL") != NULL;
	pthread_mutex_lock(&log_lock);
	if (journal)
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else
		fprintf(stderr, "toolgate: %s\n", line);
	pthread_mutex_unlock(&log_lock);
}
