"""The delivery baseline: a plain loop posting the same Twilio payloads with the same pooled httpx client.

python -m bench.plain_loop URL ACCOUNT_SID AUTH_TOKEN N CONCURRENCY -- prints the seconds it took.
CONCURRENCY processes each post N/CONCURRENCY messages, one keep-alive client per process, as the
Celery worker's prefork processes do.
"""

import base64
import multiprocessing
import sys
import time

import httpx


def _post(args: tuple[str, str, str, int, int]) -> int:
    url, sid, token, start, count = args
    auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
    ok = 0
    with httpx.Client(timeout=httpx.Timeout(10.0), limits=httpx.Limits(max_connections=100,
                                                                         max_keepalive_connections=20)) as client:
        for i in range(start, start + count):
            response = client.post(f"{url}/2010-04-01/Accounts/{sid}/Messages.json",
                                   data={"To": f"+1415{i:07d}", "Body": "Your Acme code is 123456.",
                                         "From": "+15005550006"},
                                   headers={"Authorization": auth, "Accept": "application/json"})
            response.json()
            ok += response.status_code == 201
    return ok


def main() -> None:
    url, sid, token, n, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    share = n // concurrency
    jobs = [(url, sid, token, 1 + k * share, share + (n % concurrency if k == concurrency - 1 else 0))
            for k in range(concurrency)]
    with multiprocessing.get_context("fork").Pool(concurrency) as pool:
        started = time.perf_counter()
        ok = sum(pool.map(_post, jobs))
        elapsed = time.perf_counter() - started
    print(f"{elapsed:.4f} {ok}", flush=True)


if __name__ == "__main__":
    main()
