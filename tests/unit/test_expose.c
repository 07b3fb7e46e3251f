// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Text exposition format 0.0.4: escaping, histogram shape, well-formed output. */
#include <inttypes.h>
#include <time.h>

#include "buf.h"
#include "expose.h"
#include "golden_store.h"
#include "http1.h"
#include "metrics.pb-c.h"
#include "procfs.h"
#include "prom.h"
#include "selfmetrics.h"
#include "store.h"
#include "unit.h"

static const double duration_bounds[] = { 0.005, 0.01 };
static const double size_bounds[] = { 0, 100 };

static char *label_value(const char *v)
{
	struct buf b = {};

	prom__label_value(&b, v);
	return b.data ? b.data : strdup("");
}

static void label_values_escape_quote_backslash_and_newline(void)
{
	char *s = label_value("a\"b\\c\nd");

	CHECK_STR(s, "a\\\"b\\\\c\\nd");
	free(s);
	s = label_value("plain /polls/{id}/ ok");
	CHECK_STR(s, "plain /polls/{id}/ ok");
	free(s);
	s = label_value("");
	CHECK_STR(s, "");
	free(s);
}

static void label_values_are_always_utf8(void)
{
	char *s = label_value("caf\xc3\xa9 \xe2\x82\xac");

	CHECK_STR(s, "caf\xc3\xa9 \xe2\x82\xac"); /* valid UTF-8 untouched */
	free(s);
	s = label_value("a\xff" "b");
	CHECK_STR(s, "a\xef\xbf\xbd" "b");
	free(s);
	s = label_value("\xc0\xaf"); /* overlong '/' */
	CHECK_STR(s, "\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	s = label_value("\xed\xa0\x80"); /* surrogate */
	CHECK_STR(s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	s = label_value("\xe2\x82"); /* cut sequence at the end */
	CHECK_STR(s, "\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
}

static struct store *store_with(const char *route, uint64_t *ns, size_t n)
{
	struct store_opts o = {
		.duration = { duration_bounds, 2, 1e-9 },
		.body_size = { size_bounds, 2, 1.0 },
	};
	struct identity id = { .service_name = "svc \"q\"" };
	struct store *s = store__new(&o);

	for (size_t i = 0; i < n; i++) {
		struct request_obs obs = { .id = &id, .method = HTTP_PATCH, .route = route,
					   .status = 201, .duration_ns = ns[i],
					   .req_body_bytes = 7, .resp_body_bytes = 1000 };

		store__observe_request(s, &obs);
	}
	return s;
}

static char *render(struct store *s)
{
	struct self_stats self = { .events = 3 };
	struct buf b = {};

	CHECK(!expose__render(s, &self, PROM_TEXT, &b));
	CHECK(!b.oom);
	return b.data;
}

static void histograms_are_cumulative_with_exact_sums(void)
{
	uint64_t ns[] = { 4000000, 5000000, 7000000, 2500000000ULL };
	struct store *s = store_with("/a\"b\\c\nd", ns, 4);
	char *out = render(s);
	const char *labels = "{service_name=\"svc \\\"q\\\"\",http_request_method=\"PATCH\","
			     "http_route=\"/a\\\"b\\\\c\\nd\",http_response_status_code=\"201\",url_scheme=\"http\","
			     "network_protocol_version=\"1.1\"";
	char expect[2048];

	snprintf(expect, sizeof(expect),
		 "http_server_request_duration_seconds_bucket%s,le=\"0.005\"} 2\n"
		 "http_server_request_duration_seconds_bucket%s,le=\"0.01\"} 3\n"
		 "http_server_request_duration_seconds_bucket%s,le=\"+Inf\"} 4\n"
		 "http_server_request_duration_seconds_sum%s} 2.516000000\n"
		 "http_server_request_duration_seconds_count%s} 4\n",
		 labels, labels, labels, labels, labels);
	CHECK(strstr(out, expect) != NULL);
	snprintf(expect, sizeof(expect),
		 "http_server_response_body_size_bytes_bucket%s,le=\"0\"} 0\n"
		 "http_server_response_body_size_bytes_bucket%s,le=\"100\"} 0\n"
		 "http_server_response_body_size_bytes_bucket%s,le=\"+Inf\"} 4\n"
		 "http_server_response_body_size_bytes_sum%s} 4000\n",
		 labels, labels, labels, labels);
	CHECK(strstr(out, expect) != NULL);
	CHECK(strstr(out, "# TYPE http_server_request_duration_seconds histogram\n") != NULL);
	CHECK(strstr(out, "http_server_active_requests{service_name=\"svc \\\"q\\\"\"} 0\n") != NULL);
	CHECK(strstr(out, "redscope_events_total 3\n") != NULL);
	free(out);
	store__free(s);
}

static bool is_name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* The metric name of a sample line, without the histogram suffix. */
static void family_of(const char *line, char *out, size_t n)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	size_t len = 0;

	while (line[len] && line[len] != '{' && line[len] != ' ' && len < n - 1)
		len++;
	memcpy(out, line, len);
	out[len] = '\0';
	for (size_t i = 0; i < 3; i++) {
		size_t k = strlen(suffixes[i]);

		if (len > k && !strcmp(out + len - k, suffixes[i]) &&
		    !strstr(out, "_total")) {
			out[len - k] = '\0';
			break;
		}
	}
}

static void every_line_is_well_formed_and_families_are_contiguous(void)
{
	uint64_t ns[] = { 1, 2, 3 };
	struct store *s = store_with("/x", ns, 3);
	char *out = render(s), *save = NULL, *line;
	char current[128] = "", fam[128], seen[64][128];
	size_t n_seen = 0;

	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
			family_of(line + 7, fam, sizeof(fam));
			if (strcmp(fam, current)) {
				for (size_t i = 0; i < n_seen; i++)
					CHECK(strcmp(seen[i], fam)); /* a family appears once */
				if (n_seen < 64)
					strcpy(seen[n_seen++], fam);
				strcpy(current, fam);
			}
			continue;
		}
		CHECK(line[0] != '#');
		CHECK(is_name_char(line[0], true));
		family_of(line, fam, sizeof(fam));
		if (strncmp(fam, current, strlen(current)))
			fprintf(stderr, "sample %s outside its family %s\n", line, current);
		CHECK(!strncmp(fam, current, strlen(current)));
		/* a value follows the last space */
		{
			const char *v = strrchr(line, ' ');
			char *end;

			CHECK(v != NULL);
			if (v) {
				strtod(v + 1, &end);
				CHECK(*end == '\0' && end != v + 1);
			}
		}
	}
	free(out);
	store__free(s);
}

static void pod_labels_follow_the_service_name(void)
{
	struct store_opts o = {
		.duration = { duration_bounds, 2, 1e-9 },
		.body_size = { size_bounds, 2, 1.0 },
	};
	struct identity pod = { .service_name = "web", .k8s_namespace = "shop",
				.k8s_pod = "web-7d4b9c-x2x", .k8s_container = "web" };
	struct identity host = { .service_name = "nginx" };
	struct store *s = store__new(&o);
	struct request_obs obs = { .id = &pod, .method = HTTP_GET, .route = "/", .status = 200 };
	char *out;

	store__observe_request(s, &obs);
	obs.id = &host;
	store__observe_request(s, &obs);
	out = render(s);
	CHECK(strstr(out, "http_server_request_duration_seconds_count{service_name=\"web\","
			  "k8s_namespace_name=\"shop\",k8s_pod_name=\"web-7d4b9c-x2x\","
			  "k8s_container_name=\"web\",http_request_method=\"GET\"") != NULL);
	CHECK(strstr(out, "http_server_active_requests{service_name=\"web\",k8s_namespace_name="
			  "\"shop\",k8s_pod_name=\"web-7d4b9c-x2x\",k8s_container_name=\"web\"} 0\n") != NULL);
	/* a process outside any pod: no empty pod labels */
	CHECK(strstr(out, "http_server_active_requests{service_name=\"nginx\"} 0\n") != NULL);
	free(out);
	store__free(s);
}

static void compat_statsd_series_for_gunicorn_services_only(void)
{
	struct store_opts o = {
		.duration = { duration_bounds, 2, 1e-9 },
		.body_size = { size_bounds, 2, 1.0 },
		.compat_statsd = true,
		.summary_max_age_ns = 600000000000ULL,
		.summary_cap = 100,
	};
	struct identity gun = { .service_name = "polls", .flags = IDENTITY_GUNICORN };
	struct identity other = { .service_name = "node" };
	struct store *s = store__new(&o);
	const struct {
		const struct identity *id;
		const char *route;
		unsigned int status;
		uint64_t ns;
		bool tls;
	} reqs[] = {
		{ &gun, "/polls/2xx_success/", 200, 800000000, false },
		{ &gun, "/polls/2xx_success/", 200, 600000000, true }, /* over https */
		{ &gun, "/polls/4xx_not_found/", 404, 2000000, false },
		{ &gun, "/polls/5xx_exception/", 500, 3000000, false },
		{ &other, "/x", 200, 1000000, false },
	};
	struct timespec now;
	char *out;

	/* summaries are over a window that ends when the scrape happens */
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct request_obs obs = { .id = reqs[i].id, .method = HTTP_GET,
					   .route = reqs[i].route, .status = reqs[i].status,
					   .end_ns = now.tv_sec * 1000000000ULL + now.tv_nsec,
					   .duration_ns = reqs[i].ns, .tls = reqs[i].tls };

		store__observe_request(s, &obs);
	}
	s->services->workers = 3;
	out = render(s);
	CHECK(strstr(out, "# TYPE gunicorn_requests counter\n"
			  "gunicorn_requests{service_name=\"polls\"} 4\n") != NULL);
	CHECK(strstr(out, "# TYPE gunicorn_request_status_200 counter\n"
			  "gunicorn_request_status_200{service_name=\"polls\"} 2\n") != NULL);
	CHECK(strstr(out, "gunicorn_request_status_404{service_name=\"polls\"} 1\n") != NULL);
	CHECK(strstr(out, "gunicorn_request_status_500{service_name=\"polls\"} 1\n") != NULL);
	CHECK(strstr(out, "# TYPE gunicorn_request_duration summary\n") != NULL);
	CHECK(strstr(out, "gunicorn_request_duration{service_name=\"polls\",quantile=\"0.5\"} 0.003\n") != NULL);
	CHECK(strstr(out, "gunicorn_request_duration{service_name=\"polls\",quantile=\"0.99\"} 0.8\n") != NULL);
	CHECK(strstr(out, "gunicorn_request_duration_sum{service_name=\"polls\"} 1.405000000\n") != NULL);
	CHECK(strstr(out, "gunicorn_request_duration_count{service_name=\"polls\"} 4\n") != NULL);
	CHECK(strstr(out, "gunicorn_workers{service_name=\"polls\"} 3\n") != NULL);
	CHECK(strstr(out, "django_request_count{service=\"polls\",endpoint=\"/polls/4xx_not_found/\","
			  "method=\"GET\",status=\"404\"} 1\n") != NULL);
	/* the old series knew no scheme: http and https requests are one series */
	CHECK(strstr(out, "django_request_count{service=\"polls\",endpoint=\"/polls/2xx_success/\","
			  "method=\"GET\",status=\"200\"} 2\n") != NULL);
	CHECK(strstr(strstr(out, "django_request_count{service=\"polls\",endpoint=\"/polls/2xx_success/\"") + 1,
		     "django_request_count{service=\"polls\",endpoint=\"/polls/2xx_success/\"") == NULL);
	CHECK(strstr(out, "http_route=\"/polls/2xx_success/\",http_response_status_code=\"200\","
			  "url_scheme=\"https\",network_protocol_version=\"1.1\"} 1\n") != NULL);
	CHECK(strstr(out, "http_route=\"/polls/2xx_success/\",http_response_status_code=\"200\","
			  "url_scheme=\"http\",network_protocol_version=\"1.1\"} 1\n") != NULL);
	CHECK(strstr(out, "django_request_latency_seconds{service=\"polls\",endpoint=\"/polls/2xx_success/\","
			  "quantile=\"0.5\"} 0.6\n") != NULL);
	CHECK(strstr(out, "django_request_latency_seconds_count{service=\"polls\","
			  "endpoint=\"/polls/2xx_success/\"} 2\n") != NULL);
	/* the other service is in the OTel series only */
	CHECK(strstr(out, "service_name=\"node\",http_request_method") != NULL);
	CHECK(strstr(out, "gunicorn_requests{service_name=\"node\"}") == NULL);
	CHECK(strstr(out, "service=\"node\"") == NULL);
	free(out);
	store__free(s);
}

/* The page up to redscope's own families (which name this machine's kernel). */
static char *page_of_store(const struct store *s, size_t budget)
{
	struct self_stats self = {};
	struct expose_cursor c;
	struct buf b = {};
	char *cut;

	if (!budget) {
		CHECK(!expose__render(s, &self, PROM_TEXT, &b));
	} else {
		CHECK(!expose__begin(&c, PROM_TEXT, s));
		while (expose__next(&c, s, &self, &b, budget))
			;
		expose__end(&c);
	}
	buf__append(&b, "", 1);
	CHECK(!b.oom);
	cut = strstr(b.data, "# HELP redscope_build_info");
	CHECK(cut != NULL);
	if (cut)
		*cut = '\0';
	return b.data;
}

/* Today's text for a fixed store, byte for byte (the golden file is what it was). */
static void text_matches_the_golden_page(void)
{
	struct store *s = golden_store();
	char *page = page_of_store(s, 0);
	size_t len;
	char *golden;

	if (getenv("REDSCOPE_GOLDEN_WRITE")) { /* after a deliberate change: review the diff */
		FILE *f = fopen(GOLDEN_PATH, "w");

		CHECK(f != NULL);
		if (f) {
			fputs(page, f);
			fclose(f);
		}
	}
	golden = procfs__read(GOLDEN_PATH, 1 << 24, &len);
	CHECK(golden != NULL);
	if (golden) {
		CHECK_EQ(strlen(page), len);
		CHECK(!strcmp(page, golden));
	}
	free(golden);
	free(page);
	store__free(s);
}

/* A page rendered piece by piece, however small the pieces, is the page rendered whole. */
static void pieces_make_the_same_page(void)
{
	static const size_t budgets[] = { 1, 7, 300, 4096, 16384 };
	struct store *s = golden_store();
	char *whole = page_of_store(s, 0);

	for (size_t i = 0; i < ARRAY_SIZE(budgets); i++) {
		char *pieces = page_of_store(s, budgets[i]);

		if (strcmp(pieces, whole))
			fprintf(stderr, "budget %zu: the pieces differ from the whole page\n",
				budgets[i]);
		CHECK(!strcmp(pieces, whole));
		free(pieces);
	}
	free(whole);
	store__free(s);
}

/* Each piece stops near its budget: a page of many series is never held whole. */
static void pieces_stay_near_their_budget(void)
{
	struct store *s = golden_store();
	struct self_stats self = {};
	struct expose_cursor c;
	struct buf b = {};
	size_t pieces = 0, largest = 0;

	CHECK(!expose__begin(&c, PROM_TEXT, s));
	for (;;) {
		b.len = 0;
		if (!expose__next(&c, s, &self, &b, 2048))
			break;
		pieces++;
		if (!c.done && b.len > largest)
			largest = b.len;
	}
	expose__end(&c);
	/* a piece ends with the series that crossed the budget: under 2 KiB more */
	CHECK(pieces > 20);
	CHECK(largest < 4096);
	buf__free(&b);
	store__free(s);
}

/* --body-size-buckets=none: the two body size families are gone, the rest as it was. */
static void body_size_histograms_can_be_turned_off(void)
{
	struct store_opts o = {
		.duration = { duration_bounds, 2, 1e-9 },
		.body_size = { size_bounds, 2, 1.0 },
		.body_size_off = true,
	};
	struct identity id = { .service_name = "svc" };
	struct request_obs obs = { .id = &id, .method = HTTP_GET, .route = "/", .status = 200,
				   .duration_ns = 3000000, .req_body_bytes = 10 };
	struct store *s = store__new(&o);
	char *out;

	CHECK_EQ(store__observe_request(s, &obs), 0);
	out = render(s);
	CHECK(strstr(out, "http_server_request_duration_seconds_count{service_name=\"svc\"") != NULL);
	CHECK(strstr(out, "body_size") == NULL);
	CHECK(strstr(out, "http_server_active_requests") != NULL);
	free(out);
	store__free(s);
}

/* A protobuf page, decoded (with protobuf-c): its MetricFamily messages in order. */
struct pb_page {
	Io__Prometheus__Client__MetricFamily *f[512];
	size_t n;
};

static void pb_decode(const struct buf *b, struct pb_page *page)
{
	size_t pos = 0;

	page->n = 0;
	while (pos < b->len && page->n < ARRAY_SIZE(page->f)) {
		uint64_t len = 0;
		int shift = 0;

		while (pos < b->len && (b->data[pos] & 0x80)) {
			len |= (uint64_t)(b->data[pos++] & 0x7f) << shift;
			shift += 7;
		}
		len |= (uint64_t)(b->data[pos++] & 0x7f) << shift;
		CHECK(pos + len <= b->len);
		if (pos + len > b->len)
			return;
		page->f[page->n] = io__prometheus__client__metric_family__unpack(
			NULL, len, (const uint8_t *)b->data + pos);
		CHECK(page->f[page->n] != NULL);
		if (!page->f[page->n])
			return;
		page->n++;
		pos += len;
	}
	CHECK_EQ(pos, b->len);
}

static void pb_free(struct pb_page *page)
{
	for (size_t i = 0; i < page->n; i++)
		io__prometheus__client__metric_family__free_unpacked(page->f[i], NULL);
}

/* The protobuf page of s, in pieces of budget bytes (0: whole), without redscope's own. */
static void pb_page_of_store(const struct store *s, size_t budget, struct buf *b)
{
	struct self_stats self = {};
	struct expose_cursor c;

	b->len = 0;
	CHECK(!expose__begin(&c, PROM_PROTOBUF, s));
	while (expose__next(&c, s, &self, b, budget ? budget : SIZE_MAX / 2))
		;
	expose__end(&c);
	CHECK(!b->oom);
}

/* Each metric's labels as the text format writes them, "{a=\"x\",b=\"y\"" */
static void pb_labels(struct buf *out, const Io__Prometheus__Client__Metric *m)
{
	for (size_t i = 0; i < m->n_label; i++) {
		buf__printf(out, "%s%s=\"", i ? "," : "{", m->label[i]->name);
		prom__label_value(out, m->label[i]->value);
		buf__puts(out, "\"");
	}
}

/* A histogram's native buckets: every observation in one, indexes ascending. */
static void native_buckets_hold_every_observation(const Io__Prometheus__Client__Histogram *h)
{
	uint64_t total = h->zero_count;
	int64_t count = 0;
	int32_t index = 0;
	size_t d = 0;

	CHECK(h->has_schema && h->schema == NHIST_SCHEMA_START);
	CHECK(h->zero_threshold > 0);
	for (size_t i = 0; i < h->n_positive_span; i++) {
		CHECK(i == 0 || h->positive_span[i]->offset > 0);
		index += h->positive_span[i]->offset;
		for (uint32_t k = 0; k < h->positive_span[i]->length; k++, index++) {
			CHECK(d < h->n_positive_delta);
			count += h->positive_delta[d++];
			CHECK(count > 0);
			total += (uint64_t)count;
		}
	}
	CHECK_EQ(d, h->n_positive_delta);
	CHECK_EQ(total, h->sample_count);
}

/*
 * The protobuf page holds the text page's series with the same values, the histograms
 * with their native buckets too, and pieces of any size make the same page.
 */
static void protobuf_page_has_the_text_pages_series(void)
{
	static const size_t budgets[] = { 1, 300, 4096 };
	struct store *s = golden_store();
	char *text = page_of_store(s, 0);
	struct buf whole = {}, pieces = {}, line = {};
	struct pb_page page;
	size_t histograms = 0, samples = 0;

	pb_page_of_store(s, 0, &whole);
	pb_decode(&whole, &page);
	for (size_t i = 0; i < page.n; i++) {
		const Io__Prometheus__Client__MetricFamily *f = page.f[i];

		if (!strncmp(f->name, "redscope_", 9) || !strncmp(f->name, "process_", 8))
			break; /* redscope's own: not in the text page of page_of_store */
		CHECK(i == 0 || strcmp(f->name, page.f[i - 1]->name)); /* whole: one message */
		for (size_t j = 0; j < f->n_metric; j++) {
			const Io__Prometheus__Client__Metric *m = f->metric[j];

			line.len = 0;
			if (m->histogram) {
				buf__printf(&line, "%s_count", f->name);
				pb_labels(&line, m);
				buf__printf(&line, "} %" PRIu64 "\n", m->histogram->sample_count);
				CHECK_EQ(m->histogram->n_bucket, strstr(f->name, "body_size") ? 2 : 3);
				native_buckets_hold_every_observation(m->histogram);
				histograms++;
			} else if (m->summary) {
				buf__printf(&line, "%s_count", f->name);
				pb_labels(&line, m);
				buf__printf(&line, "} %" PRIu64 "\n", m->summary->sample_count);
				CHECK_EQ(m->summary->n_quantile, 3);
			} else {
				double v = m->counter ? m->counter->value : m->gauge->value;

				CHECK(f->type == (m->counter ? IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER
							     : IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE));
				buf__puts(&line, f->name);
				pb_labels(&line, m);
				buf__puts(&line, "} ");
				buf__append(&line, "", 1);
				/* the text's value, exact in its own notation (1.500000000 s) */
				const char *at = strstr(text, line.data);

				CHECK(at && strtod(at + line.len - 1, NULL) == v);
				samples++;
				continue;
			}
			buf__append(&line, "", 1);
			if (!strstr(text, line.data))
				fprintf(stderr, "not in the text page: %s", line.data);
			CHECK(strstr(text, line.data) != NULL);
		}
	}
	CHECK_EQ(histograms, s->n_series * 3 + s->n_services);
	CHECK(samples > 0);
	for (size_t i = 0; i < ARRAY_SIZE(budgets); i++) {
		struct pb_page split;
		size_t m = 0, total = 0, whole_total = 0;

		pb_page_of_store(s, budgets[i], &pieces);
		pb_decode(&pieces, &split);
		CHECK(split.n > page.n); /* the large families came in several messages */
		/* the same metrics, in the same order, under the same family names */
		for (size_t k = 0; k < page.n; k++)
			whole_total += page.f[k]->n_metric;
		for (size_t k = 0; k < split.n; k++) {
			total += split.f[k]->n_metric;
			while (m < page.n && strcmp(page.f[m]->name, split.f[k]->name))
				m++;
			CHECK(m < page.n);
		}
		CHECK_EQ(total, whole_total);
		pb_free(&split);
	}
	pb_free(&page);
	buf__free(&whole);
	buf__free(&pieces);
	buf__free(&line);
	free(text);
	store__free(s);
}

/* The protobuf format is served when the scraper ranks it first, or equal to text. */
static void accept_headers_choose_the_format(void)
{
	CHECK_EQ(prom__negotiate(NULL), PROM_TEXT);
	CHECK_EQ(prom__negotiate(""), PROM_TEXT);
	CHECK_EQ(prom__negotiate("*/*"), PROM_TEXT);
	/* Prometheus with native histograms on, and without */
	CHECK_EQ(prom__negotiate("application/vnd.google.protobuf;proto=io.prometheus.client."
				 "MetricFamily;encoding=delimited,application/openmetrics-text;"
				 "version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
		 PROM_PROTOBUF);
	CHECK_EQ(prom__negotiate("application/openmetrics-text;version=1.0.0,application/"
				 "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
				 "q=0.5,*/*;q=0.1"),
		 PROM_TEXT);
	CHECK_EQ(prom__negotiate("Application/Vnd.Google.Protobuf; Proto=io.prometheus.client."
				 "MetricFamily; Encoding=delimited"),
		 PROM_PROTOBUF);
	/* not the delimited MetricFamily stream: text */
	CHECK_EQ(prom__negotiate("application/vnd.google.protobuf;proto=io.prometheus.client."
				 "MetricFamily;encoding=text"),
		 PROM_TEXT);
	CHECK_EQ(prom__negotiate("application/vnd.google.protobuf"), PROM_TEXT);
	/* ranked below text, or refused */
	CHECK_EQ(prom__negotiate("text/plain,application/vnd.google.protobuf;proto=io.prometheus."
				 "client.MetricFamily;encoding=delimited;q=0.5"),
		 PROM_TEXT);
	CHECK_EQ(prom__negotiate("application/vnd.google.protobuf;proto=io.prometheus.client."
				 "MetricFamily;encoding=delimited;q=0"),
		 PROM_TEXT);
}

/*
 * HTTP/2 requests carry network_protocol_version="2"; a gRPC call is in the RPC family
 * only, named by OpenTelemetry's RPC conventions, error_type on the server's errors.
 */
static void http2_and_grpc_series(void)
{
	struct store_opts o = {
		.duration = { duration_bounds, 2, 1e-9 },
		.body_size = { size_bounds, 2, 1.0 },
	};
	struct identity id = { .service_name = "cart" };
	struct store *s = store__new(&o);
	const struct request_obs obs[] = {
		{ .id = &id, .method = HTTP_GET, .route = "/healthz", .status = 200,
		  .duration_ns = 1000000, .version = HTTP_VERSION_2 },
		{ .id = &id, .method = HTTP_POST, .route = "shop.Cart/Add", .status = 0,
		  .duration_ns = 2000000, .version = HTTP_VERSION_2, .kind = SERIES_RPC_SERVER },
		{ .id = &id, .method = HTTP_POST, .route = "shop.Cart/Add", .status = 4,
		  .duration_ns = 3000000, .version = HTTP_VERSION_2, .kind = SERIES_RPC_SERVER },
		{ .id = &id, .method = HTTP_POST, .route = "shop.Cart/Add", .status = 5,
		  .duration_ns = 3000000, .version = HTTP_VERSION_2, .kind = SERIES_RPC_SERVER },
		{ .id = &id, .method = HTTP_GET, .route = "/old", .status = 200,
		  .duration_ns = 1000000, .version = HTTP_VERSION_1_0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(obs); i++)
		CHECK(!store__observe_request(s, &obs[i]));
	char *out = render(s);
	CHECK(strstr(out, "http_server_request_duration_seconds_count{service_name=\"cart\","
			  "http_request_method=\"GET\",http_route=\"/healthz\","
			  "http_response_status_code=\"200\",url_scheme=\"http\","
			  "network_protocol_version=\"2\"} 1\n") != NULL);
	CHECK(strstr(out, "network_protocol_version=\"1.0\"} 1\n") != NULL);
	CHECK(strstr(out, "# TYPE rpc_server_call_duration_seconds histogram\n") != NULL);
	CHECK(strstr(out, "rpc_server_call_duration_seconds_count{service_name=\"cart\","
			  "rpc_system_name=\"grpc\",rpc_method=\"shop.Cart/Add\","
			  "rpc_response_status_code=\"OK\",url_scheme=\"http\"} 1\n") != NULL);
	CHECK(strstr(out, "rpc_server_call_duration_seconds_count{service_name=\"cart\","
			  "rpc_system_name=\"grpc\",rpc_method=\"shop.Cart/Add\","
			  "rpc_response_status_code=\"DEADLINE_EXCEEDED\",error_type=\"DEADLINE_EXCEEDED\","
			  "url_scheme=\"http\"} 1\n") != NULL);
	/* NOT_FOUND is the client's matter: no error_type */
	CHECK(strstr(out, "rpc_response_status_code=\"NOT_FOUND\",url_scheme=\"http\"} 1\n") != NULL);
	/* not counted twice: no HTTP series of the calls, no body sizes for them */
	CHECK(strstr(out, "http_route=\"shop.Cart/Add\"") == NULL);
	CHECK(strstr(out, "rpc_method=\"shop.Cart/Add\",rpc_response_status_code=\"OK\",url_scheme=\"http\",le=") != NULL);
	size_t http = 0;
	store_for_each_service(svc, s)
		store_for_each_request(r, svc)
			http += r->kind == SERIES_HTTP_SERVER;
	CHECK_EQ(http, 2);
	free(out);
	store__free(s);
}

int main(void)
{
	RUN(label_values_escape_quote_backslash_and_newline);
	RUN(label_values_are_always_utf8);
	RUN(histograms_are_cumulative_with_exact_sums);
	RUN(every_line_is_well_formed_and_families_are_contiguous);
	RUN(pod_labels_follow_the_service_name);
	RUN(compat_statsd_series_for_gunicorn_services_only);
	RUN(body_size_histograms_can_be_turned_off);
	RUN(text_matches_the_golden_page);
	RUN(pieces_make_the_same_page);
	RUN(pieces_stay_near_their_budget);
	RUN(protobuf_page_has_the_text_pages_series);
	RUN(accept_headers_choose_the_format);
	RUN(http2_and_grpc_series);
	return unit_report("expose");
}
