"""One endpoint per outcome. DEMO_SCALE scales the time the 2xx endpoint sleeps:
normally distributed, mean 0.8 s and standard deviation 0.2 s at scale 1. With
DEMO_DEPENDENCY set to a base URL, dependency/?to=PATH calls it (a service the app
depends on) through a requests session, and answers with the status it got."""
import os
import random
import time

from django.http import Http404, HttpResponse

DEPENDENCY = os.environ.get("DEMO_DEPENDENCY")
_session = None

SCALE = float(os.environ.get("DEMO_SCALE", "1"))
MEAN_S = 0.8
STDDEV_S = 0.2


def success(request):
    time.sleep(max(0.0, random.gauss(MEAN_S * SCALE, STDDEV_S * SCALE)))
    return HttpResponse("success\n")


def not_found(request):
    raise Http404("the 4xx endpoint")


def exception(request):
    raise RuntimeError("the 5xx endpoint")


def dependency(request):
    global _session
    if not DEPENDENCY:
        raise Http404("no dependency configured (DEMO_DEPENDENCY)")
    import requests  # only where a dependency is called
    if _session is None:
        _session = requests.Session()  # keep-alive: a pool of connections per worker
    got = _session.get(DEPENDENCY + request.GET.get("to", "/"), timeout=10, verify=False)
    return HttpResponse("%d\n" % got.status_code)
