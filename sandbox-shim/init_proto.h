/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init_proto.h - the private contract between the spawner (spawn.c) and the
 * PID 1 of every sandbox (init.c). Both sides are built from this tree at
 * the same time, so there is no versioning beyond the magic number.
 *
 * The spawner execs toolgate-init with
 *   argv = { "toolgate-init", PATH, ARGV0, ARGV1, ..., NULL }
 * where PATH is the program to run inside the sandbox, or "" to run the
 * file open on TG_INIT_EXEC_FD (execveat(AT_EMPTY_PATH)), and envp is
 * exactly the environment the program gets. Descriptors:
 *   0, 1, 2            the program's stdio
 *   TG_INIT_STATUS_FD  write end of the status pipe (never inherited by the program)
 *   TG_INIT_EXEC_FD    only when PATH is "": the file to execute
 * Nothing else is open.
 *
 * Prepared (deferred) start: argv = { "toolgate-init", PATH, NULL } and
 * two more descriptors:
 *   TG_INIT_EXEC_FD    the file to execute, or /dev/null when PATH is set
 *   TG_INIT_START_FD   init's end of the start socket (a stream socketpair)
 * init then waits, doing nothing else, for one struct tg_init_start
 * followed by `len` bytes: argc NUL-terminated argv strings, then envc
 * NUL-terminated environment strings. EOF before it means the prepared
 * sandbox was discarded: init exits 0 without a report. A malformed message
 * is reported as exec_errno EINVAL.
 *
 * When the program has ended, init writes one struct tg_init_report to the
 * status pipe and exits; the kernel then kills whatever is left in the pid
 * namespace. No report means init itself was killed.
 */
#ifndef TG_INIT_PROTO_H
#define TG_INIT_PROTO_H

#include <stdint.h>

#define TG_INIT_STATUS_FD 3
#define TG_INIT_EXEC_FD   4
#define TG_INIT_START_FD  5

#define TG_INIT_MAGIC 0x74676931u /* "tgi1" */

/* init forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the
 * program; every other signal stays blocked in init. */

#define TG_INIT_START_MAGIC 0x74677331u /* "tgs1" */
/* Bounds of a start message: the kernel refuses an exec past these anyway. */
#define TG_INIT_START_MAX_LEN     (16u << 20)
#define TG_INIT_START_MAX_STRINGS (1u << 18)

struct tg_init_start {
	uint32_t magic;
	uint32_t argc; /* >= 1 */
	uint32_t envc;
	uint32_t len; /* bytes of strings that follow */
};

struct tg_init_report {
	uint32_t magic;
	int32_t wait_status; /* the program's wait status (as from waitpid) */
	int32_t exec_errno;  /* != 0: the program could not be executed (or forked) */
	uint32_t reserved;
};

#endif /* TG_INIT_PROTO_H */
