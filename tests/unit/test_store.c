// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metric store: series identity, bucket placement, sums, growth. */
#include "http1.h"
#include "route.h"
#include "store.h"
#include "unit.h"

static const double duration_bounds[] = { 0.005, 0.01, 0.1, 1 };
static const double size_bounds[] = { 0, 100, 1000 };

static struct store *new_store(void)
{
	struct store_opts o = {
		.duration = { duration_bounds, 4, 1e-9 },
		.body_size = { size_bounds, 3, 1.0 },
	};
	return store__new(&o);
}

static struct request_obs obs(const struct identity *id, const char *route, unsigned int status,
			      uint64_t ns)
{
	return (struct request_obs){ .id = id, .method = HTTP_GET, .route = route, .status = status,
				     .duration_ns = ns, .req_body_bytes = 0, .resp_body_bytes = 150 };
}

static struct request_series *only_series(struct store *s)
{
	struct service_series *svc = s->services;

	CHECK(svc && !svc->next);
	return svc ? svc->requests : NULL;
}

static void observations_land_in_the_right_buckets(void)
{
	struct identity id = { .service_name = "svc" };
	struct store *s = new_store();
	struct request_series *r;
	/* on a bound counts in that bucket (le is "less or equal") */
	uint64_t ns[] = { 1, 5000000, 5000001, 10000000, 99999999, 1000000000, 1000000001, 7000000000 };

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		struct request_obs o = obs(&id, "/a", 200, ns[i]);

		CHECK_EQ(store__observe_request(s, &o), 0);
	}
	r = only_series(s);
	CHECK_EQ(r->duration.buckets[0], 2); /* <= 0.005 */
	CHECK_EQ(r->duration.buckets[1], 2); /* <= 0.01 */
	CHECK_EQ(r->duration.buckets[2], 1); /* <= 0.1 */
	CHECK_EQ(r->duration.buckets[3], 1); /* <= 1 */
	CHECK_EQ(r->duration.buckets[4], 2); /* +Inf */
	CHECK_EQ(r->duration.count, 8);
	CHECK_EQ(r->duration.sum, 1 + 5000000 + 5000001 + 10000000 + 99999999 + 1000000000 +
				      1000000001 + 7000000000ULL);
	CHECK_EQ(r->resp_body.buckets[2], 8); /* 150 bytes: <= 1000 */
	CHECK_EQ(r->req_body.buckets[0], 8);  /* empty bodies: <= 0 */
	store__free(s);
}

static void each_label_set_is_its_own_series(void)
{
	struct identity a = { .service_name = "a" }, b = { .service_name = "b" };
	struct identity a2 = { .service_name = "a", .flags = IDENTITY_GUNICORN };
	struct identity pod1 = { .service_name = "a", .k8s_namespace = "shop", .k8s_pod = "web-1",
				 .k8s_container = "app" };
	struct identity pod2 = { .service_name = "a", .k8s_namespace = "shop", .k8s_pod = "web-2",
				 .k8s_container = "app" };
	struct store *s = new_store();
	struct request_obs o;
	struct service_series *svc;
	size_t services = 0;

	o = obs(&a, "/x", 200, 1);
	store__observe_request(s, &o);
	o = obs(&a2, "/x", 200, 1); /* same identity by value */
	store__observe_request(s, &o);
	o = obs(&a, "/x", 404, 1);
	store__observe_request(s, &o);
	o = obs(&a, "/y", 200, 1);
	store__observe_request(s, &o);
	o = obs(&a, "/x", 200, 1);
	o.method = HTTP_POST;
	store__observe_request(s, &o);
	o = obs(&b, "/x", 200, 1);
	store__observe_request(s, &o);
	o = obs(&a, "/x", 200, 1);
	o.tls = true; /* https: a series of its own */
	store__observe_request(s, &o);
	o = obs(&pod1, "/x", 200, 1);
	store__observe_request(s, &o);
	o = obs(&pod2, "/x", 200, 1); /* another pod of the same service name */
	store__observe_request(s, &o);
	CHECK_EQ(s->n_series, 8);
	for (svc = s->services; svc; svc = svc->next)
		services++;
	CHECK_EQ(services, 4);
	CHECK_STR(s->services->next->next->id.k8s_pod, "web-1");
	CHECK_STR(s->services->next->next->next->id.k8s_container, "app");
	/* insertion order is kept; flags do not tell services apart but accumulate */
	svc = s->services;
	CHECK_STR(svc->id.service_name, "a");
	CHECK_EQ(svc->id.flags, IDENTITY_GUNICORN);
	CHECK_STR(svc->requests->route_entry->route, "/x");
	CHECK_EQ(svc->requests->status, 200);
	CHECK_EQ(svc->requests->duration.count, 2);
	store__free(s);
}

static void many_series_survive_table_growth(void)
{
	struct identity id = { .service_name = "svc" };
	struct store *s = new_store();
	char route[32];
	struct request_series *r;
	size_t n = 0;

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 5000; i++) {
			struct request_obs o;

			snprintf(route, sizeof(route), "/r%d", i);
			o = obs(&id, route, 200, 1000);
			CHECK_EQ(store__observe_request(s, &o), 0);
		}
	}
	CHECK_EQ(s->n_series, 5000);
	for (r = s->services->requests; r; r = r->next) {
		CHECK_EQ(r->duration.count, 3);
		n++;
	}
	CHECK_EQ(n, 5000);
	store__free(s);
}

static void services_exist_before_any_request(void)
{
	struct identity id = { .service_name = "idle" };
	struct store *s = new_store();
	struct service_series *svc;

	CHECK(store__find_service(s, &id) == NULL);
	svc = store__service(s, &id);
	CHECK(svc != NULL);
	CHECK(store__service(s, &id) == svc);
	CHECK(store__find_service(s, &id) == svc);
	CHECK_EQ(s->n_series, 0);
	store__free(s);
}

static void routes_beyond_the_cap_fold_into_one(void)
{
	struct store_opts o = {
		.duration = { duration_bounds, 4, 1e-9 },
		.body_size = { size_bounds, 3, 1.0 },
		.max_routes = 3,
	};
	struct identity a = { .service_name = "a" }, b = { .service_name = "b" };
	struct store *s = store__new(&o);
	const char *routes[] = { "/1", "/2", "/3", "/4", "/5", "/1", "/5" };
	struct service_series *svc;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		struct request_obs r = obs(&a, routes[i], 200, 1);

		CHECK_EQ(store__observe_request(s, &r), 0);
	}
	svc = s->services;
	CHECK_EQ(svc->routes.n, 3);
	CHECK_EQ(svc->routes.overflow, 3); /* /4, /5, /5 */
	CHECK_EQ(s->n_series, 4);	  /* /1 /2 /3 {overflow} */
	CHECK_STR(svc->requests->next->next->next->route_entry->route, ROUTE_OVERFLOW);
	CHECK_EQ(svc->requests->next->next->next->duration.count, 3);
	CHECK_EQ(svc->requests->duration.count, 2); /* /1 twice: known routes still count */
	/* the cap is per service */
	{
		struct request_obs r = obs(&b, "/9", 200, 1);

		store__observe_request(s, &r);
		CHECK_EQ(svc->next->routes.n, 1);
		CHECK_EQ(svc->next->routes.overflow, 0);
	}
	store__free(s);
}

int main(void)
{
	RUN(observations_land_in_the_right_buckets);
	RUN(each_label_set_is_its_own_series);
	RUN(many_series_survive_table_growth);
	RUN(services_exist_before_any_request);
	RUN(routes_beyond_the_cap_fold_into_one);
	return unit_report("store");
}
