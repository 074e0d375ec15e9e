/* The log-relay rank of tests/bench/bench_runtime.sh: writes BYTES (default 100 MB) of
 * 100-byte lines ("\n" included) to stdout, in write()s of 655 whole lines (65,500
 * bytes), the way a program with a 64 KiB output buffer would, or of
 * RUNTIME_WRITER_WRITE_BYTES rounded down to whole lines (8192: 81 lines, as a program with
 * an 8 KiB buffer writes). Exits 1 if a write fails.
 * With RUNTIME_WRITER_PIPE_SIZE=N and stdout a pipe, it first asks the kernel to make
 * that pipe N bytes (F_SETPIPE_SZ; either end may), to see what a reader that enlarged
 * its pipes would gain.
 *
 *   cc -O2 -o runtime_writer runtime_writer.c && ./runtime_writer 100000000 > file
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { LINE = 100, LINES_PER_WRITE = 655 };

static int write_all(const char* at, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, at, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        at += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char** argv) {
    long long total = argc > 1 ? atoll(argv[1]) : 100000000LL;
    const char* rank = getenv("RANK");
    const char* pipe_size = getenv("RUNTIME_WRITER_PIPE_SIZE");
    if (pipe_size && *pipe_size && fcntl(1, F_GETPIPE_SZ) > 0 && fcntl(1, F_SETPIPE_SZ, atoi(pipe_size)) < 0) {
        perror("runtime_writer: F_SETPIPE_SZ");
    }
    static char block[LINE * LINES_PER_WRITE];
    long long line = 0;
    for (int i = 0; i < LINES_PER_WRITE; ++i) {
        char* l = block + (size_t)i * LINE;
        int n = snprintf(l, LINE, "rank %s line %08d ", rank ? rank : "-", i);
        memset(l + n, 'x', (size_t)(LINE - 1 - n));
        l[LINE - 1] = '\n';
    }
    size_t chunk = sizeof block;
    const char* write_bytes = getenv("RUNTIME_WRITER_WRITE_BYTES");
    if (write_bytes && *write_bytes && atol(write_bytes) >= LINE && (size_t)atol(write_bytes) < chunk) {
        chunk = (size_t)atol(write_bytes) / LINE * LINE;
    }
    long long left = total - total % LINE;
    while (left > 0) {
        size_t n = left < (long long)chunk ? (size_t)left : chunk;
        if (write_all(block, n) != 0) {
            perror("runtime_writer: write");
            return 1;
        }
        left -= (long long)n;
        line += (long long)(n / LINE);
    }
    return line > 0 ? 0 : 1;
}
