"""One endpoint per outcome. DEMO_SCALE scales the time the 2xx endpoint sleeps:
normally distributed, mean 0.8 s and standard deviation 0.2 s at scale 1."""
import os
import random
import time

from django.http import Http404, HttpResponse

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
