// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `redscope top`: the view as a full-screen table redrawn every second, with
 * single-key sorting and a service filter. On a terminal it uses the alternate
 * screen and raw input (restored on the way out, whatever the way); otherwise it
 * prints a plain table per refresh.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "top.h"
#include "view.h"

#define FILTER_MAX 64

static const char *const sort_names[] = {
	[VIEW_SORT_RATE] = "req/s", [VIEW_SORT_ERRORS] = "err%", [VIEW_SORT_P50] = "p50",
	[VIEW_SORT_P99] = "p99",    [VIEW_SORT_NAME] = "name",
};

static struct {
	bool tty;
	bool raw; /* the terminal settings below are to be restored */
	struct termios saved;
	enum view_sort sort;
	char filter[FILTER_MAX];
	bool editing; /* typing a filter after 'f' */
	char typed[FILTER_MAX];
} top;

static void out(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= w;
	}
}

int top__start(enum view_sort sort, const char *filter)
{
	struct termios raw;

	top.sort = sort;
	snprintf(top.filter, sizeof(top.filter), "%s", filter ? filter : "");
	top.tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
	if (!top.tty)
		return 0;
	if (tcgetattr(STDIN_FILENO, &top.saved))
		return -errno;
	raw = top.saved;
	raw.c_lflag &= ~(ICANON | ECHO); /* keys one by one, not echoed; ^C still signals */
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw))
		return -errno;
	top.raw = true;
	out("\033[?1049h\033[?25l", strlen("\033[?1049h\033[?25l")); /* alternate screen, no cursor */
	return 0;
}

void top__stop(void)
{
	if (!top.raw)
		return;
	out("\033[?25h\033[?1049l", strlen("\033[?25h\033[?1049l"));
	tcsetattr(STDIN_FILENO, TCSANOW, &top.saved);
	top.raw = false;
}

enum view_sort top__sort(void)
{
	return top.sort;
}

/* Handle the keys typed so far; true when the user asked to quit. */
bool top__keys(void)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	char c;

	if (!top.tty)
		return false;
	while (poll(&p, 1, 0) > 0 && read(STDIN_FILENO, &c, 1) == 1) {
		size_t n = strlen(top.typed);

		if (top.editing) {
			if (c == '\n' || c == '\r') {
				memcpy(top.filter, top.typed, sizeof(top.filter));
				top.editing = false;
			} else if (c == 27) { /* Esc */
				top.editing = false;
			} else if ((c == 127 || c == 8) && n) {
				top.typed[n - 1] = '\0';
			} else if (c >= 0x20 && c < 0x7f && n + 1 < sizeof(top.typed)) {
				top.typed[n] = c;
				top.typed[n + 1] = '\0';
			}
			continue;
		}
		switch (c) {
		case 'q':
		case 'Q':
			return true;
		case 'r':
			top.sort = VIEW_SORT_RATE;
			break;
		case 'e':
			top.sort = VIEW_SORT_ERRORS;
			break;
		case '5':
			top.sort = VIEW_SORT_P50;
			break;
		case '9':
			top.sort = VIEW_SORT_P99;
			break;
		case 'n':
			top.sort = VIEW_SORT_NAME;
			break;
		case 'f':
		case '/':
			top.editing = true;
			top.typed[0] = '\0';
			break;
		default:
			break;
		}
	}
	return false;
}

/* Draw one refresh of the view. */
void top__frame(struct view *v)
{
	struct winsize ws = { .ws_col = 80, .ws_row = 24 };
	struct buf b = {};
	char clock[16], status[256];
	time_t now = time(NULL);
	int rows = 0;

	if (top.tty && (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_col)) {
		ws.ws_col = 80;
		ws.ws_row = 24;
	}
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
	view__filter(v, top.filter);
	view__sort(v, top.sort);
	if (top.editing)
		snprintf(status, sizeof(status), "filter service: %s_   (Enter apply, Esc cancel)",
			 top.typed);
	else
		snprintf(status, sizeof(status),
			 "redscope top %s  last %.0fs  sort %s%s%s  keys: q r e 5 9 n f",
			 clock, v->seconds, sort_names[top.sort], top.filter[0] ? "  filter " : "",
			 top.filter);
	if (!top.tty) {
		buf__printf(&b, "%s\n", status);
		view__table(&b, v, 80);
		buf__puts(&b, "\n");
		out(b.data, b.len);
		buf__free(&b);
		return;
	}
	buf__puts(&b, "\033[H");
	buf__printf(&b, "\033[7m%-*.*s\033[0m\033[K\n", ws.ws_col, ws.ws_col, status);
	{
		struct buf table = {};
		const char *line;

		view__table(&table, v, ws.ws_col);
		/* as many lines as the screen has, each cleared to its end */
		for (line = table.data; line && *line && rows < ws.ws_row - 2; rows++) {
			const char *eol = strchr(line, '\n');
			size_t len = eol ? (size_t)(eol - line) : strlen(line);

			buf__append(&b, line, len);
			buf__puts(&b, "\033[K\n");
			line = eol ? eol + 1 : NULL;
		}
		buf__free(&table);
	}
	buf__puts(&b, "\033[J");
	out(b.data, b.len);
	buf__free(&b);
}
