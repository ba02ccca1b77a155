"""How many live inbox streams (SSE) one ASGI process holds open while it still answers the feed API.

    .venv/bin/python -m bench.inbox_streams [STREAMS ...]

Needs DATABASE_URL (migrated) and REDIS_URL. Starts one uvicorn process with the service's ASGI app on
127.0.0.1, times 20 GET /api/v1/feed/counts/ with no stream open (the baseline), opens STREAMS streams
(default 250 1000 2000) for as many users, waits until each has its first event, then times the same 20
requests on the same process and how long a new message takes to reach its stream; prints one line per step.
`make bench` runs one round of it (bench/inbox_feed.py). Every connection is to this machine's loopback and
is closed at the end.
"""

import asyncio
import os
import resource
import socket
import subprocess
import sys
import time

import django
import httpx


async def _open_stream(port: int, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/v1/feed/stream/?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        await asyncio.wait_for(reader.readuntil(b"event: counts"), timeout=60)
    except asyncio.IncompleteReadError as err:
        raise RuntimeError(f"the stream was refused: {err.partial.decode(errors='replace')}") from None
    return reader, writer


async def _counts_timings(client: httpx.AsyncClient, token: str) -> list[float]:
    """20 GET /api/v1/feed/counts/ one after another, in seconds, sorted."""
    timings = []
    for _ in range(20):
        began = time.monotonic()
        answer = await client.get("/api/v1/feed/counts/", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        timings.append(time.monotonic() - began)
    return sorted(timings)


async def _round(port: int, tokens: list[str], user_ids: list[int]) -> dict[str, float]:
    from asgiref.sync import sync_to_async

    from inbox_app.services import feed_message_create

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        idle = await _counts_timings(client, tokens[0])  # the baseline: the same process with no stream open
        started = time.monotonic()
        streams = []
        for start in range(0, len(tokens), 100):  # a hundred connections at a time, as browsers arriving
            streams += await asyncio.gather(*(_open_stream(port, token) for token in tokens[start:start + 100]))
        opened = time.monotonic() - started
        timings = await _counts_timings(client, tokens[0])
    reader, _ = streams[-1]
    began = time.monotonic()
    await sync_to_async(feed_message_create)(user_id=user_ids[-1], title="bench", body="b")
    await asyncio.wait_for(reader.readuntil(b"event: message"), timeout=30)
    delivered = time.monotonic() - began
    for _, writer in streams:
        writer.close()
    return {"streams": len(streams), "opened_s": round(opened, 2), "median_ms": round(timings[10] * 1000, 1),
            "worst_ms": round(timings[-1] * 1000, 1), "idle_median_ms": round(idle[10] * 1000, 1),
            "idle_worst_ms": round(idle[-1] * 1000, 1), "delivered_ms": round(delivered * 1000, 1)}


def measure(counts: list[int]) -> list[dict[str, float]]:
    """One round per entry of `counts` (streams of that many distinct users) against one uvicorn process
    started here with the service's ASGI app, on this process's settings and environment."""
    from inbox_app.tokens import feed_token_mint

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * max(counts) + 256)), hard))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1", "RATELIMIT_ENABLE": "false", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "notifications_project.asgi:application",
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                               "--lifespan", "off", "--limit-concurrency", "100000"], env=env)
    rounds = []
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        for count in counts:
            user_ids = list(range(900_001, 900_001 + count))
            tokens = [feed_token_mint(user_id=user_id)[0] for user_id in user_ids]
            rounds.append(asyncio.run(_round(port, tokens, user_ids)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rounds


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifications_project.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    django.setup()
    print("one uvicorn process (one event loop), streams of distinct users")
    for figures in measure([int(value) for value in sys.argv[1:]] or [250, 1000, 2000]):
        print(f"{figures['streams']} streams open in {figures['opened_s']:.1f} s; counts API median "
              f"{figures['median_ms']:.0f} ms, worst {figures['worst_ms']:.0f} ms (with none open: "
              f"{figures['idle_median_ms']:.0f} / {figures['idle_worst_ms']:.0f} ms); a new message reached its "
              f"stream in {figures['delivered_ms']:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
