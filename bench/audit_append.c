/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/audit_append: audit records per second for each fsync mode, with a
 * realistic call record (params, argv, usage, hashes), from 1 and from 8
 * threads. Target: >= 50,000 records/s with fsync: batch. Then batch again
 * with an HMAC key, with signed checkpoints (every 1000 records, Ed25519)
 * and with both.
 *
 *     bench/audit_append [DIR] [SECONDS_PER_RUN]
 *
 * DIR defaults to the current directory: put it on the filesystem the real
 * log will live on (tmpfs makes fsync free and the figures meaningless).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "audit.h"
#include "tg.h"

struct run {
	struct tg_audit_writer *w;
	double seconds;
	uint64_t done;
	int failed;
};

static void *worker(void *arg)
{
	struct run *r = arg;
	char *argv[] = {"/usr/bin/python3", "-I", "-c", "print(sum(range(10)))", NULL};
	char *prot[] = {"userns", "pidns", "netns", "mountns", "seccomp", "caps", "cgroup", NULL};
	json_t *params = json_pack("{s:s}", "code", "print(sum(range(10)))");
	const char *h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	uint64_t end = tg_now_mono_ns() + (uint64_t)(r->seconds * 1e9);
	uint64_t n = 0;
	while ((n & 63) != 0 || tg_now_mono_ns() < end) {
		struct tg_audit_record rec = {
		        .event = TG_AUDIT_CALL,
		        .has_peer = true,
		        .peer_pid = 4242,
		        .peer_uid = 1000,
		        .has_request_id = true,
		        .request_id = n,
		        .tool = "python",
		        .params = params,
		        .decision = "allow",
		        .reason = "allowed by tools[0] (python)",
		        .rule = "tools[0] (python)",
		        .argv = argv,
		        .status = "OK",
		        .has_exit = true,
		        .has_usage = true,
		        .wall_ms = 31,
		        .cpu_ms = 24,
		        .max_rss_kb = 9312,
		        .has_output = true,
		        .stdout_bytes = 3,
		        .stdout_sha256 = h,
		        .stderr_sha256 = h,
		        .binary_sha256 = h,
		        .has_egress = true,
		        .protections = prot,
		        .policy_sha256 = h,
		};
		struct tg_error *err = NULL;
		if (tg_audit_append(r->w, &rec, &err) < 0) {
			fprintf(stderr, "append: %s\n", tg_error_msg(err));
			tg_error_free(err);
			r->failed = 1;
			break;
		}
		n++;
	}
	json_decref(params);
	r->done = n;
	return NULL;
}

static int bench(const char *dir, enum tg_audit_fsync mode, const char *name, int threads,
                 double seconds, const char *hmac, const char *sign)
{
	_cleanup_free_ char *path = tg_strdup_printf("%s/audit-bench-%d.jsonl", dir, getpid());
	_cleanup_free_ char *seal = tg_strdup_printf("%s.seal", path ? path : "");
	if (!path || !seal)
		return -ENOMEM;
	unlink(path);
	struct tg_audit_options o = {.path = path,
	                             .session = "bench",
	                             .fsync = mode,
	                             .key_file = hmac,
	                             .sign_key_file = sign,
	                             .checkpoint_every = 1000,
	                             .checkpoint_interval_ms = 60000};
	struct tg_audit_writer *w = NULL;
	struct tg_error *err = NULL;
	if (tg_audit_open(&o, &w, &err) < 0) {
		fprintf(stderr, "open %s: %s\n", path, tg_error_msg(err));
		tg_error_free(err);
		return -EIO;
	}
	struct run runs[8];
	pthread_t th[8];
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	uint64_t t0 = tg_now_mono_ns();
	for (int i = 0; i < threads; i++) {
		runs[i] = (struct run){.w = w, .seconds = seconds};
		pthread_create(&th[i], NULL, worker, &runs[i]);
	}
	uint64_t total = 0;
	int failed = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		total += runs[i].done;
		failed |= runs[i].failed;
	}
	int rc = tg_audit_close(w);
	double secs = (double)(tg_now_mono_ns() - t0) / 1e9;
	getrusage(RUSAGE_SELF, &ru1);
	/* CPU time per record: unlike records/s, it does not depend on what
	 * else the machine is doing. */
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
	                      ru0.ru_stime.tv_sec) +
	             (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
	                      ru0.ru_stime.tv_usec) /
	                     1e6;
	struct stat st;
	long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
	printf("%-12s %d thread%s  %9" PRIu64 " records  %6.2f s  %8.0f records/s  %6.1f MB/s  "
	       "%5.1f us CPU/record%s\n",
	       name, threads, threads == 1 ? " " : "s", total, secs, (double)total / secs,
	       (double)bytes / secs / 1e6, total ? cpu * 1e6 / (double)total : 0.0,
	       failed || rc < 0 ? "  (FAILED)" : "");
	unlink(path);
	unlink(seal);
	return failed || rc < 0 ? -EIO : 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	double seconds = argc > 2 ? atof(argv[2]) : 2.0;
	if (seconds <= 0)
		seconds = 2.0;
	printf("audit append benchmark in %s (%.1f s per run)\n", dir, seconds);
	int rc = 0;
	const struct {
		enum tg_audit_fsync mode;
		const char *name;
	} modes[] = {
	        {TG_AUDIT_SYNC_ALWAYS, "always"},
	        {TG_AUDIT_SYNC_BATCH, "batch"},
	        {TG_AUDIT_SYNC_NEVER, "never"},
	};
	for (size_t m = 0; m < TG_ARRAY_SIZE(modes); m++)
		for (int t = 1; t <= 8; t += 7)
			rc |= bench(dir, modes[m].mode, modes[m].name, t, seconds, NULL, NULL);

	_cleanup_free_ char *kdir = tg_strdup_printf("%s/audit-bench-keys-%d", dir, getpid());
	_cleanup_free_ char *hmac = kdir ? tg_strdup_printf("%s/hmac.key", kdir) : NULL;
	_cleanup_free_ char *sec = NULL, *pub = NULL;
	struct tg_error *err = NULL;
	if (!hmac || tg_audit_keygen(kdir, &sec, &pub, &err) < 0) {
		fprintf(stderr, "keygen: %s\n", tg_error_msg(err));
		tg_error_free(err);
		return 1;
	}
	int kfd = open(hmac, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (kfd < 0 || tg_write_all(kfd, "0123456789abcdef0123456789abcdef", 32) < 0) {
		fprintf(stderr, "%s: cannot write\n", hmac);
		return 1;
	}
	close(kfd);
	for (int t = 1; t <= 8; t += 7) {
		rc |= bench(dir, TG_AUDIT_SYNC_BATCH, "batch+hmac", t, seconds, hmac, NULL);
		rc |= bench(dir, TG_AUDIT_SYNC_BATCH, "batch+sign", t, seconds, NULL, sec);
		rc |= bench(dir, TG_AUDIT_SYNC_BATCH, "batch+both", t, seconds, hmac, sec);
	}
	unlink(hmac);
	unlink(sec);
	unlink(pub);
	rmdir(kdir);
	return rc ? 1 : 0;
}
