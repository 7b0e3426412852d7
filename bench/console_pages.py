#!/usr/bin/env python3
"""The console's pages timed (bench/console.sh): signs in as a browser does (the authorization-code
flow's form), then fetches every page ROUNDS times and records the console's `Server-Timing`
(its whole server time, the API calls it makes included) and the wall time; then the assets'
sizes as served compressed, and whether they are cached.

    console_pages.py ORIGIN USERNAME PASSWORD --rounds 20 --out bench/results/console.json
"""
import argparse
import gzip
import html
import http.cookiejar
import json
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request


def opener():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def fetch(web, url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    started = time.perf_counter()
    with web.open(request, timeout=120) as response:
        body = response.read()
        wall = (time.perf_counter() - started) * 1000
        return response, body, wall


def sign_in(web, origin, username, password):
    response, body, _ = fetch(web, origin + "/console")
    page = body.decode()
    fields = {html.unescape(n): html.unescape(v) for n, v in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
    fields.update(username=username, password=password)
    response, body, _ = fetch(web, response.geturl(), urllib.parse.urlencode(fields).encode())
    if not response.geturl().rstrip("/").endswith("/console"):
        sys.exit(f"signing in ended at {response.geturl()}")
    return body.decode()


def first_link(page, prefix):
    """The first link to one entity's page (not the form for a new one)."""
    for found in re.finditer(r'href="(' + re.escape(prefix) + r'([^"/?]+))"', page):
        if found.group(2) != "new":
            return html.unescape(found.group(1))
    return None


def next_page(page):
    found = re.search(r'href="([^"]*[?&]page=[^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


def time_page(web, origin, path, rounds):
    server, wall = [], []
    for _ in range(rounds):
        response, body, ms = fetch(web, origin + path)
        if response.status != 200 or 'role="alert"' in body.decode():
            sys.exit(f"{path} answered {response.status}: {body[:400]!r}")
        timing = response.headers.get("server-timing", "")
        server.append(float(timing.split("dur=")[1]))
        wall.append(ms)
    server.sort()
    wall.sort()
    pick = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))]
    return {"path": path, "server_ms_p50": round(statistics.median(server), 1),
            "server_ms_p95": round(pick(server, 0.95), 1), "server_ms_max": round(server[-1], 1),
            "wall_ms_p50": round(statistics.median(wall), 1), "bytes": len(body)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("origin")
    p.add_argument("username")
    p.add_argument("password")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--devices", type=int, default=0)
    p.add_argument("--out")
    args = p.parse_args()
    web = opener()
    overview = sign_in(web, args.origin, args.username, args.password)

    # Pages found by following the console's own links.
    _, body, _ = fetch(web, args.origin + "/console/policies")
    policy = first_link(body.decode(), "/console/policies/")
    _, body, _ = fetch(web, args.origin + "/console/devices")
    devices_page = body.decode()
    device = first_link(devices_page, "/console/devices/")
    devices_next = next_page(devices_page)
    _, body, _ = fetch(web, args.origin + "/console/users")
    users_page = body.decode()
    user = first_link(users_page, "/console/users/")
    # Filters that find something: the start of the first listed user's name and sign-in name.
    name = re.search(r'href="/console/users/[^"]+">([^<]+)<', users_page).group(1)
    upn = re.search(r"<td>([^<@]+)@", users_page).group(1)
    name_prefix = urllib.parse.quote(html.unescape(name)[:6])
    upn_prefix = urllib.parse.quote(html.unescape(upn)[:4])
    _, body, _ = fetch(web, args.origin + policy)
    policy_next = next_page(body.decode())
    paths = [
        "/console",
        "/console/policies",
        policy,
        policy_next,
        policy + "/edit",
        "/console/policies/new",
        "/console/devices",
        devices_next,
        "/console/devices?verdict=noncompliant",
        "/console/devices?platform=iOS&verdict=noncompliant",
        "/console/devices?platform=iOS&verdict=inGracePeriod",
        f"/console/devices?user={upn_prefix}",
        "/console/devices?before=2020-01-01",
        device,
        "/console/users",
        f"/console/users?name={name_prefix}",
        "/console/users?name=Nobody",
        user,
        "/console/groups",
        "/console/outbox",
        "/console/audit",
        "/console/simulation",
        "/console/simulation?preview=P30D",
    ]
    # One warm-up pass (the first read of a page's rows comes from the disk cache, and a start
    # that built new indexes is still checkpointing them), then the timed rounds.
    for path in paths:
        if path is not None:
            time_page(web, args.origin, path, 1)
    pages = []
    for path in paths:
        if path is None:
            continue
        figures = time_page(web, args.origin, path, args.rounds)
        pages.append(figures)
        print(f"{figures['server_ms_p50']:8.1f} {figures['server_ms_p95']:8.1f} {figures['server_ms_max']:8.1f} ms  {path}",
              file=sys.stderr)

    # The assets, as a browser asks for them.
    assets = []
    for path in re.findall(r'(?:href|src)="(/console/assets/[^"]+)"', overview):
        response, body, _ = fetch(web, args.origin + path, headers={"Accept-Encoding": "gzip"})
        encoding = response.headers.get("content-encoding", "")
        plain = gzip.decompress(body) if encoding == "gzip" else body
        assets.append({"path": path, "bytes": len(plain),
                       "compressed_bytes": len(body) if encoding else len(gzip.compress(body)),
                       "content_encoding": encoding,
                       "cache_control": response.headers.get("cache-control", ""),
                       "etag": response.headers.get("etag", "")})
    total = sum(a["compressed_bytes"] for a in assets)
    slowest = max(pages, key=lambda f: f["server_ms_p95"])
    result = {"devices": args.devices, "rounds": args.rounds, "pages": pages, "assets": assets,
              "assets_compressed_bytes": total, "slowest_p95": slowest}
    print(f"slowest page p95: {slowest['server_ms_p95']} ms ({slowest['path']}); "
          f"assets {total} bytes compressed", file=sys.stderr)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
