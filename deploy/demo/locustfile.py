"""The load of the demo: 2xx, 4xx and 5xx endpoints with weights 2:1:1.

Each user waits DEMO_WAIT (min,max, default 2,4) times DEMO_SCALE seconds between
requests: 10 users keep 3 sync workers about 40% busy. The lower that share, the
less requests wait in the listen queue before a worker takes them."""
import os

from locust import HttpUser, between, task

SCALE = float(os.environ.get("DEMO_SCALE", "1"))
WAIT_MIN, WAIT_MAX = (float(x) for x in os.environ.get("DEMO_WAIT", "2,4").split(","))


class PollsUser(HttpUser):
    wait_time = between(WAIT_MIN * SCALE, WAIT_MAX * SCALE)

    @task(2)
    def success(self):
        self.client.get("/polls/2xx_success/")

    @task(1)
    def not_found(self):
        self.client.get("/polls/4xx_not_found/")

    @task(1)
    def exception(self):
        self.client.get("/polls/5xx_exception/")
