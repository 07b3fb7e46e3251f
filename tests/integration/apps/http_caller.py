"""A service that calls others in a loop, as a frontend calls its backends: every URL of
the JSON list argv[1] through one requests session (keep-alive), then a pause of argv[2]
seconds, until killed."""
import json
import sys
import time

import requests

urls, pause = json.loads(sys.argv[1]), float(sys.argv[2])
session = requests.Session()
while True:
    for url in urls:
        try:
            session.get(url, timeout=5)
        except requests.RequestException:
            pass
    time.sleep(pause)
