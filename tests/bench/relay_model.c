/* A model of a log relay's file side, to see what any relay can gain (issue 11): 8
 * runtime_writer ranks, each writing BYTES to a pipe that THREADS relay threads (each with
 * its share of the pipes) poll and copy into the rank's file, against the ranks writing
 * straight to their files. Prints wall time and CPU seconds of the relay threads and of the
 * writers. Modes:
 *   0  read() into a 1 MiB buffer, memchr for '\r', write() to an O_APPEND file (the relay's way)
 *   1  splice() from the pipe into the file (not O_APPEND: splice refuses appending files)
 *   3  no relay: each writer's stdout is its file (what amlflow's ranks do now, log_tail.h)
 *
 *   cc -O2 -pthread -o relay_model relay_model.c && cc -O2 -o runtime_writer runtime_writer.c
 *   ./relay_model 0 ./runtime_writer 100000000 /tmp/relay-model [THREADS, default 1]
 *
 * Seen on the 2-core machine (loaded, two sessions; CPU seconds, which the load disturbs
 * less than wall time): writers into files 0.21-0.25; into pipes 0.05-0.21, plus the relay
 * 0.26-0.39 with read/write and 0.28-0.34 with splice, one thread or two alike. The relay's
 * page-cache copy costs what the writers' own did, and the pipe comes on top: any relay
 * costs ~1.4-2x the direct writes' CPU, which is its wall time too once both cores are busy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { RANKS = 8, MAX_THREADS = 8 };
static int mode, threads = 1, pipes[RANKS], files[RANKS];

static double seconds(struct rusage* u) {
    return u->ru_utime.tv_sec + u->ru_stime.tv_sec + (u->ru_utime.tv_usec + u->ru_stime.tv_usec) / 1e6;
}

static int start_rank(const char* writer, const char* bytes, int out) {
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out, 1);
        execl(writer, writer, bytes, (char*)NULL);
        _exit(127);
    }
    return pid > 0 ? 0 : -1;
}

/* Moves what the pipe holds into the file; 0 at EOF, 1 when the pipe is empty for now. */
static int relay_some(int from, int to, char* buffer, size_t size) {
    for (;;) {
        ssize_t n;
        if (mode == 1) {
            n = splice(from, NULL, to, NULL, size, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        } else {
            n = read(from, buffer, size);
            if (n > 0 && (memchr(buffer, '\r', (size_t)n) != NULL || write(to, buffer, (size_t)n) != n)) return -1;
        }
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && errno == EAGAIN ? 1 : 0;
    }
}

/* One relay thread: the pipes i with i % threads == its number. */
static void* relay(void* arg) {
    long me = (long)arg;
    size_t size = 1 << 20;
    char* buffer = malloc(size);
    for (;;) {
        struct pollfd ready[RANKS];
        int which[RANKS], count = 0;
        for (int i = (int)me; i < RANKS; i += threads) {
            if (pipes[i] < 0) continue;
            ready[count] = (struct pollfd){.fd = pipes[i], .events = POLLIN};
            which[count++] = i;
        }
        if (count == 0) break;
        poll(ready, (nfds_t)count, -1);
        for (int k = 0; k < count; ++k) {
            if (!ready[k].revents) continue;
            int i = which[k];
            int state = relay_some(pipes[i], files[i], buffer, size);
            if (state < 0) perror("relay"), exit(1);
            if (state == 0) {
                close(pipes[i]);
                pipes[i] = -1;
            }
        }
    }
    free(buffer);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: relay_model MODE WRITER BYTES DIR [THREADS]\n");
        return 2;
    }
    mode = atoi(argv[1]);
    if (argc == 6) threads = atoi(argv[5]);
    if (threads < 1 || threads > MAX_THREADS) threads = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < RANKS; ++i) {
        char path[4096];
        snprintf(path, sizeof path, "%s/rank-%d.log", argv[4], i);
        files[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (mode == 1 ? 0 : O_APPEND), 0644);
        if (files[i] < 0) return perror(path), 1;
        pipes[i] = -1;
        if (mode == 3) {
            if (start_rank(argv[2], argv[3], files[i]) != 0) return 1;
            continue;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0 || start_rank(argv[2], argv[3], p[1]) != 0) return 1;
        close(p[1]);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        pipes[i] = p[0];
    }
    if (mode != 3) {
        pthread_t relays[MAX_THREADS];
        for (long t = 0; t < threads; ++t) pthread_create(&relays[t], NULL, relay, (void*)t);
        for (int t = 0; t < threads; ++t) pthread_join(relays[t], NULL);
    }
    while (wait(NULL) > 0) {
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    printf("mode %d, %d thread(s): wall %.3f s, relay cpu %.3f s, writers cpu %.3f s\n", mode, threads,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, seconds(&self), seconds(&children));
    return 0;
}
