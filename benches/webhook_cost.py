#!/usr/bin/env python3
"""CPU cost of webhook delivery per receipt, without jowi-bench (stdlib only).

    benches/webhook_cost.py JOWI_BINARY [--rate 100] [--duration 15] [--rounds 2]

Creates a fresh database (WH_DB, default jowi_bench_wh) on the machine's
PostgreSQL, starts JOWI_BINARY on 127.0.0.1:18097, makes 10 tenants (one
store, one register with an open shift, 50 products each), then alternates
`receipt` (no subscription) and `receipt-webhook` (one active subscription
on the first tenant, all event types, to a sink served by this script) at a
constant rate of cash sales with 3 random items, spread over the tenants as
benches/run.sh does. For each run it prints the CPU seconds (utime + stime
from /proc/<pid>/stat) of the server process and of the PostgreSQL backends
connected to the bench database, per 1,000 committed receipts. The client
and the sink run in this process and are not counted.
"""
import argparse
import http.client
import http.server
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid

HZ = os.sysconf("SC_CLK_TCK")
ADMIN_DB = os.environ.get("WH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB = os.environ.get("WH_DB", "jowi_bench_wh")
DB_URL = ADMIN_DB.rsplit("/", 1)[0] + "/" + DB
PORT = int(os.environ.get("WH_PORT", "18097"))


def psql(url, sql):
    out = subprocess.run(["psql", "-X", "-At", "-d", url, "-c", sql], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    except OSError:
        return 0


def pg_pids():
    out = psql(ADMIN_DB, f"SELECT pid FROM pg_stat_activity WHERE datname = '{DB}'")
    return [int(p) for p in out.split()] if out else []


class Client:
    def __init__(self):
        self.local = threading.local()

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            self.local.c = c
        return c

    def req(self, method, path, token=None, body=None):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            try:
                c = self.conn()
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
            except (http.client.HTTPException, OSError):
                self.local.c = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def created(client, path, token, body):
    status, b = client.req("POST", path, token, body)
    if status != 201:
        raise SystemExit(f"POST {path}: {status} {b}")
    return b


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        self.rfile.read(n)
        with Sink.lock:
            Sink.count += 1
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tenants", type=int, default=10)
    ap.add_argument("--products", type=int, default=50)
    ap.add_argument("--threads", type=int, default=16)
    a = ap.parse_args()

    psql(ADMIN_DB, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(ADMIN_DB, f"CREATE DATABASE {DB}")
    env = dict(os.environ, DATABASE_URL=DB_URL)
    subprocess.run([a.binary, "migrate"], env=env, check=True, capture_output=True)
    admin = uuid.uuid4().hex
    env.update(JOWI_LISTEN=f"127.0.0.1:{PORT}", JOWI_ADMIN_TOKEN=admin,
               JOWI__LIMITS__ENABLED="false", JOWI__WEBHOOKS__ALLOW_PRIVATE_URLS="true",
               RUST_LOG="warn")
    env.pop("REDIS_URL", None)
    log = open(f"/tmp/{DB}-server.log", "w")
    server = subprocess.Popen([a.binary, "serve"], env=env, stdout=log, stderr=log)
    try:
        run(a, server.pid, admin)
    finally:
        server.terminate()
        server.wait(timeout=30)
        psql(ADMIN_DB, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def run(a, pid, admin):
    client = Client()
    for _ in range(120):
        try:
            if client.req("GET", "/api/v1/health/ready")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.5)
    tills = []
    tenants = []
    for t in range(a.tenants):
        ten = created(client, "/api/v1/admin/tenants", admin, {"name": f"bench {t}"})
        owner = ten["token"]
        store = created(client, "/api/v1/stores", owner, {"name": "Main"})
        reg = created(client, f"/api/v1/stores/{store['id']}/registers", owner, {"name": "Till"})
        token = reg["token"]
        shift = created(client, "/api/v1/shifts", token,
                        {"register_id": reg["register"]["id"], "opening_cash": 0})
        variants = []
        for i in range(a.products):
            p = created(client, "/api/v1/products", owner,
                        {"name": f"P{i}", "variants": [{"barcode": f"t{t}b{i}", "price": 1000 + i}]})
            variants.append((p["variants"][0]["id"], 1000 + i))
        tenants.append(owner)
        tills.append((store["id"], reg["register"]["id"], token, shift["id"], variants))

    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{sink.server_address[1]}/bench-sink"

    def sale(till):
        store, register, token, shift, variants = till
        items = random.sample(variants, 3)
        return token, {"id": str(uuid.uuid4()), "store_id": store, "register_id": register,
                       "shift_id": shift, "kind": "sale",
                       "items": [{"variant_id": v, "quantity": 1} for v, _ in items],
                       "payments": [{"method": "cash", "amount": sum(p for _, p in items)}]}

    def load(seconds):
        """Constant arrival rate over `threads` workers; answers (ok, failed)."""
        ok = [0]
        bad = [0]
        lock = threading.Lock()
        start = time.monotonic()
        total = int(a.rate * seconds)
        nxt = [0]

        def worker():
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= total:
                    return
                due = start + i / a.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                token, body = sale(random.choice(tills))
                status, _ = client.req("POST", "/api/v1/receipts", token, body)
                with lock:
                    if status == 201:
                        ok[0] += 1
                    else:
                        bad[0] += 1

        ts = [threading.Thread(target=worker) for _ in range(a.threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return ok[0], bad[0]

    def count():
        return int(psql(DB_URL, "SELECT count(*) FROM receipts"))

    print(f"warm-up: {load(5)}", file=sys.stderr)
    time.sleep(3)
    print(f"{'scenario':16} {'receipts':>9} {'deliveries':>10} {'server s/1k':>12} "
          f"{'pg s/1k':>10} {'total s/1k':>11}")
    for _ in range(a.rounds):
        for scenario in ("receipt", "receipt-webhook"):
            sub = None
            if scenario == "receipt-webhook":
                s, b = client.req("POST", "/api/v1/webhooks", tenants[0],
                                  {"url": sink_url, "description": "cost sink"})
                if s != 201:
                    raise SystemExit(f"subscribe: {s} {b}")
                sub = b["webhook"]["id"]
            time.sleep(1)
            s0 = ticks(pid)
            pg0 = {p: ticks(p) for p in pg_pids()}
            r0 = count()
            d0 = Sink.count
            ok, bad = load(a.duration)
            # Let the sequencer and the worker finish (the sink quiet for 2 s).
            last, quiet = Sink.count, time.monotonic()
            while time.monotonic() - quiet < 2.5:
                time.sleep(0.25)
                if Sink.count != last:
                    last, quiet = Sink.count, time.monotonic()
            s1 = ticks(pid)
            pg1 = sum(ticks(p) - pg0.get(p, 0) for p in pg_pids())
            n = count() - r0
            d = Sink.count - d0
            srv = (s1 - s0) / HZ / n * 1000
            pg = pg1 / HZ / n * 1000
            print(f"{scenario:16} {n:9d} {d:10d} {srv:12.3f} {pg:10.3f} {srv + pg:11.3f}"
                  + (f"  ({bad} failed)" if bad else ""), flush=True)
            if sub:
                client.req("DELETE", f"/api/v1/webhooks/{sub}", tenants[0])


if __name__ == "__main__":
    main()
