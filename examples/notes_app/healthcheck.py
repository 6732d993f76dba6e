"""Container health check: exit 0 when ``GET /healthz`` on this process's ``HOST``/``PORT`` answers 200, else 1.

The image's HEALTHCHECK runs ``python -m notes_app.healthcheck`` (no curl in the image). A wildcard ``HOST``
(unset, ``0.0.0.0``, ``::``) is checked on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 4.0


def health_url(env: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The URL of the app's health path, from the same variables the app listens on."""
    host = env.get("HOST", "").strip()
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{env.get('PORT', '8080').strip()}/healthz"


def main() -> int:
    url = health_url()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as resp:
            status, body = resp.status, resp.read(500)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(500)
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    print(f"{'healthy' if status == 200 else 'unhealthy'}: {url} answered {status} {body.decode(errors='replace')}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
