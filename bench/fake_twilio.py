"""The loopback Twilio fake as a process of its own, counting requests instead of keeping them.

python -m bench.fake_twilio PORT  -- serves until terminated; prints "ready" once listening.

It also keeps a clock for the lanes phase (bench/lanes.py): the wall-clock time of the first and the last
message it accepted, the arrival time of each message whose body carries an urgent marker ("code is
U<n>."), and the count and last arrival of a second, small bulk's messages ("code is S."), read with
GET /bench/arrivals and emptied with POST /bench/arrivals.
"""

import re
import signal
import sys
import threading
import time

from tests.fakes.base import Answer, RecordedRequest
from tests.fakes.twilio import FakeTwilio

URGENT = re.compile(r"code is (U\d+)\.")
SMALL = "code is S."
ARRIVALS_PATH = "/bench/arrivals"


class CountingTwilio(FakeTwilio):
    """The test fake's answers, without recording 100,000 requests in memory."""

    port_wanted = 0

    def __init__(self) -> None:
        super().__init__()
        self._clock = threading.Lock()
        self._arrivals_clear()

    def _arrivals_clear(self) -> None:
        with self._clock:
            self.accepted, self.first, self.last = 0, 0.0, 0.0
            self.urgent: dict[str, float] = {}
            self.small, self.small_last = 0, 0.0

    def answer_for(self, request: RecordedRequest) -> Answer:
        if request.path == ARRIVALS_PATH:
            if request.method == "POST":
                self._arrivals_clear()
            with self._clock:
                return Answer(json={"accepted": self.accepted, "first": self.first, "last": self.last,
                                    "urgent": dict(self.urgent), "small": self.small,
                                    "small_last": self.small_last})
        arrived = time.time()
        answer = self.respond(request)
        if answer.status == 201:
            body = request.form.get("Body", "")
            marker = URGENT.search(body)
            with self._clock:
                if marker:
                    self.urgent.setdefault(marker.group(1), arrived)
                elif SMALL in body:
                    self.small, self.small_last = self.small + 1, arrived
                else:
                    self.accepted += 1
                    self.first, self.last = self.first or arrived, arrived
        return answer


def main() -> None:
    fake = CountingTwilio()
    fake.host = "127.0.0.1"
    # The base picks a free port; the benchmark needs to know it before settings are read.
    import tests.fakes.base as base
    original = base._QuietThreadingServer.__init__

    def bind_to(self, address, handler, *args, **kwargs):
        original(self, ("127.0.0.1", int(sys.argv[1])), handler, *args, **kwargs)

    base._QuietThreadingServer.__init__ = bind_to
    base._QuietThreadingServer.request_queue_size = 1024
    fake.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    fake.stop()


if __name__ == "__main__":
    main()
