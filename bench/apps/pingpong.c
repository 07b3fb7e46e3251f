/*
 * Two processes pass one byte back and forth N times, over two pipes or over a unix
 * socket pair: 4 syscalls (write, read, write, read) per round trip, nothing else.
 * Prints the wall time in nanoseconds. Usage: pingpong N [pipe|socketpair]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int ping[2], pong[2], sp[2];
	struct timespec t0, t1;
	char c = 'x';
	pid_t child;

	if (argc > 2 && !strcmp(argv[2], "socketpair")) {
		/* one stream socket pair: each side writes to its end, reads from it */
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
			return 1;
		ping[0] = sp[1];
		ping[1] = sp[0];
		pong[0] = sp[0];
		pong[1] = sp[1];
	} else if (pipe(ping) || pipe(pong)) {
		return 1;
	}
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		for (long i = 0; i < n; i++) {
			if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waitpid(child, NULL, 0);
	printf("%lld\n", (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	return 0;
}
