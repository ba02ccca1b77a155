"""The loopback Twilio fake as a process of its own, counting requests instead of keeping them.

python -m bench.fake_twilio PORT  -- serves until terminated; prints "ready" once listening.
"""

import signal
import sys
import threading

from tests.fakes.base import Answer, RecordedRequest
from tests.fakes.twilio import FakeTwilio


class CountingTwilio(FakeTwilio):
    """The test fake's answers, without recording 100,000 requests in memory."""

    port_wanted = 0

    def answer_for(self, request: RecordedRequest) -> Answer:
        return self.respond(request)


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
