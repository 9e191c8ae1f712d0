#!/usr/bin/env python3
"""`steward serve` under load: the `serve` group of benches/harness.py.

    python3 benches/harness.py --only serve                 # prints the section
    python3 benches/harness.py --only serve --write-docs    # and rewrites it in docs/performance.md
    python3 benches/harness.py --only serve --serve-seconds 5 --serve-samples 50   # a quick look

Needs wrk, the HTTP load generator (Debian/Ubuntu: `apt-get install -y wrk`;
4.1 was used); the group stops with that message when it is missing.

Measures a release build with the default store, a SQLite file on disk
(`.steward/steward.db` in a temp project, WAL, `synchronous=normal`):

- Webhook to first step: sequential Standard Webhooks deliveries (signed
  with a `whsec_` secret) to `POST /hooks/bench`, each starting a runbook
  whose first step appends `date +%s%N`; latency is that clock minus the
  time the request was sent (and, for the engine's side, the first step's
  `attempt_started` audit timestamp minus the send time).
- Sustained runs per second: wrk POSTs `{"runbook": "noop"}` (one
  `shell: "true"` step) to `/api/v1/runs` for N seconds at several
  connection counts; runs/s counts the 201s, latency is wrk's; afterwards
  the store must hold as many runs as 201s were counted, all succeeded.
- Memory and CPU: VmRSS/VmHWM (/proc/PID/status) of an idle server, then
  with 100 and 1,000 runs waiting on an `approval` step; CPU of the server
  over 10 s (utime + stime from /proc/PID/stat) in each state, and the
  latency of `GET /health` in each.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

TOKEN = "bench-token-" + os.urandom(6).hex()
NARROW_TOKEN = "bench-narrow-" + os.urandom(6).hex()
HOOK_KEY = os.urandom(24)
HOOK_SECRET = "whsec_" + base64.b64encode(HOOK_KEY).decode()
SLACK_SECRET = "bench-slack-" + os.urandom(6).hex()
CLK_TCK = os.sysconf("SC_CLK_TCK")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

CONFIG = """\
server:
  # Measuring throughput, not the limiter (default 600 a minute per token).
  rate_limit: { requests: 1000000, per: 1s }
  tokens:
    - name: bench
      secret: BENCH_TOKEN
      actions: [run, read, approve]
    - name: narrow
      secret: BENCH_NARROW_TOKEN
      runbooks: ["no*"]
      actions: [read]
  hooks:
    - name: bench
      kind: standard
      secret: BENCH_HOOK_SECRET
      runbook: first
      inputs:
        n: "{{ payload.n }}"
  slack:
    signing_secret: BENCH_SLACK_SECRET
    response_urls: ["http://127.0.0.1:"]
"""

RUNBOOKS = {
    "first": """\
description: Its first step notes when it started.
inputs:
  n: { type: string, required: true }
triggers:
  chat: { allow: ["*"] }
steps:
  - id: mark
    shell: echo {{ inputs.n }} $(date +%s%N) >> MARKS
""",
    "noop": 'description: One no-op step.\nsteps:\n  - { id: a, shell: "true" }\n',
    "gated": """\
description: Waits for an approval.
steps:
  - id: gate
    approval: { message: "Go?" }
  - id: after
    shell: "true"
""",
}

WRK_SCRIPT = Path(__file__).resolve().parent / "serve-post.lua"


class NoWrk(Exception):
    """wrk is not installed."""


def wrk_path():
    path = shutil.which("wrk")
    if not path:
        raise NoWrk("the serve group needs wrk: apt-get install -y wrk (Debian/Ubuntu)")
    return path


def status_of(pid):
    """VmRSS and VmHWM of `pid`, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def threads_of(pid):
    """How many threads `pid` has."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of `pid` (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    rest = stat[stat.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def epoch_ns(rfc3339):
    """Nanoseconds since the epoch of an RFC 3339 UTC timestamp (`…Z`)."""
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")) - EPOCH
    return ((moment.days * 86_400 + moment.seconds) * 10**6 + moment.microseconds) * 1000


def pct(values, p):
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


class Server:
    """A `steward serve` on a free loopback port; stopped by `stop()`."""

    def __init__(self, binary, project, env):
        self.project = project
        self.err = open(project / "serve.err", "w+")
        self.proc = subprocess.Popen(
            [str(binary), "--project", str(project), "serve", "--listen", "127.0.0.1:0", "--grace", "1s"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err)
        deadline = time.monotonic() + 30
        while True:
            text = (project / "serve.err").read_text()
            found = [l for l in text.splitlines() if l.startswith("listening on http://")]
            if found:
                self.host, port = found[0].removeprefix("listening on http://").rsplit(":", 1)
                self.port = int(port)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"steward serve did not start: {text[-2000:]}")
            time.sleep(0.05)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    @property
    def pid(self):
        return self.proc.pid

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def request(self, method, path, body=None, headers=None):
        """One request on the kept-alive connection: (status, parsed JSON or text)."""
        headers = dict(headers or {})
        if path.startswith("/api/"):
            headers.setdefault("Authorization", f"Bearer {TOKEN}")
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closes a kept-alive connection idle for longer than
            # `server.timeouts.headers`: connect again.
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        text = response.read().decode()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    def stop(self):
        """SIGTERM (runs waiting are cancelled after the 1 s grace), SIGKILL after 60 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def signed(body, msg_id):
    """Standard Webhooks headers for `body`."""
    ts = str(int(time.time()))
    mac = hmac.new(HOOK_KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac).decode(),
            "Content-Type": "application/json"}


def project_for(root, name):
    """A fresh project (under target/, on disk) with the bench runbooks."""
    project = Path(tempfile.mkdtemp(prefix=f"serve-{name}-", dir=root))
    (project / "runbooks").mkdir()
    (project / "steward.yaml").write_text(CONFIG)
    for rb, text in RUNBOOKS.items():
        (project / "runbooks" / f"{rb}.yaml").write_text(text.replace("MARKS", str(project / "marks")))
    return project


def store_of(project):
    return project / ".steward" / "steward.db"


def webhook_latency(binary, root, env, samples):
    project = project_for(root, "hook")
    server = Server(binary, project, env)
    marks = project / "marks"
    sent, ids, refused = {}, {}, 0
    try:
        for n in range(samples + 5):  # the first 5 warm up
            body = json.dumps({"n": str(n)}).encode()
            headers = signed(body, f"msg_{n}")
            start = time.time_ns()
            status, answer = server.request("POST", "/hooks/bench", body, headers)
            if status != 202:
                refused += 1
                continue
            sent[n], ids[n] = start, answer["run_id"]
            # Sequential: the next delivery once this run's step has run.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if marks.exists() and marks.read_text().count("\n") > n - refused:
                    break
                time.sleep(0.0005)
    finally:
        server.stop()
    ran = {}
    for line in marks.read_text().splitlines():
        n, ns = line.split()
        ran[int(n)] = int(ns)
    con = sqlite3.connect(store_of(project))
    engine = {}
    for n, run_id in ids.items():
        rows = con.execute("SELECT line FROM events WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        for (line,) in rows:
            event = json.loads(line)
            if event["event"]["event"] == "attempt_started":
                engine[n] = epoch_ns(event["ts"])
                break
    con.close()
    shutil.rmtree(project, ignore_errors=True)
    keep = [n for n in sent if n >= 5 and n in ran]
    to_step = [(ran[n] - sent[n]) / 1e6 for n in keep]
    to_engine = [(engine[n] - sent[n]) / 1e6 for n in keep if n in engine]
    return {"samples": len(keep), "refused": refused, "step": to_step, "engine": to_engine}


def slack_answer(binary, root, env, samples):
    """Sequential signed slash commands `/runbook first n=N`: how long until
    Slack would have its answer (it allows 3 s)."""
    project = project_for(root, "slack")
    server = Server(binary, project, env)
    times, refused = [], 0
    try:
        for n in range(samples + 5):
            body = (f"command=%2Frunbook&text=first+n%3D{n}&user_id=U1&user_name=bench&channel_id=C1"
                    f"&channel_name=ops&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fx&trigger_id={n}").encode()
            ts = str(int(time.time()))
            sig = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
            start = time.perf_counter_ns()
            status, answer = server.request("POST", "/hooks/slack", body, {
                "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig,
                "Content-Type": "application/x-www-form-urlencoded"})
            elapsed = (time.perf_counter_ns() - start) / 1e6
            if status != 200 or "started" not in str(answer):
                refused += 1
            elif n >= 5:
                times.append(elapsed)
    finally:
        server.stop()
        shutil.rmtree(project, ignore_errors=True)
    return {"samples": len(times), "refused": refused, "answer": times}


def run_wrk(wrk, server, connections, seconds):
    threads = min(2, connections)
    proc = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                           "-s", str(WRK_SCRIPT), f"{server.url}/api/v1/runs"],
                          env=dict(os.environ, BENCH_TOKEN=TOKEN), capture_output=True, text=True, check=True)
    line = [l for l in proc.stdout.splitlines() if l.startswith("BENCH ")][-1]
    return json.loads(line.removeprefix("BENCH "))


def unfinished(project):
    con = sqlite3.connect(store_of(project), timeout=30)
    try:
        return con.execute("SELECT count(*) FROM runs WHERE status IN ('running', 'waiting')").fetchone()[0]
    finally:
        con.close()


def sustained(binary, wrk, root, env, levels, seconds):
    rows = []
    for connections in levels:
        project = project_for(root, f"wrk{connections}")
        server = Server(binary, project, env)
        try:
            before = cpu_seconds(server.pid)
            load = os.getloadavg()[0]
            r = run_wrk(wrk, server, connections, seconds)
            began = time.monotonic()
            while unfinished(project) and time.monotonic() - began < 120:
                time.sleep(0.05)
            drain = time.monotonic() - began
            cpu = cpu_seconds(server.pid) - before
            _, hwm = status_of(server.pid)
            listing = {name: list_latency(server, token) for name, token in (("all", TOKEN), ("narrow", NARROW_TOKEN))}
        finally:
            server.stop()
        con = sqlite3.connect(store_of(project))
        stored = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        succeeded = con.execute("SELECT count(*) FROM runs WHERE status = 'succeeded'").fetchone()[0]
        con.close()
        secs = r["duration_us"] / 1e6
        errors = r["other"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
        rows.append({"c": connections, "wrk": r, "rate": r["created"] / secs, "done_rate": r["created"] / (secs + drain),
                     "drain": drain, "errors": errors, "stored": stored, "succeeded": succeeded,
                     "cpu": cpu / (secs + drain), "hwm": hwm, "load": load, "listing": listing})
        shutil.rmtree(project, ignore_errors=True)
    return rows


def list_latency(server, token, query="?limit=50", n=30):
    """Median time of `GET /api/v1/runs{query}` with `token`."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status, answer = server.request("GET", f"/api/v1/runs{query}", headers={"Authorization": f"Bearer {token}"})
        times.append((time.perf_counter() - start) * 1e3)
        if status != 200:
            raise RuntimeError(f"GET /api/v1/runs{query}: {status} {answer}")
    return statistics.median(times)


def health_latency(server, n=200):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status, _ = server.request("GET", "/health")
        times.append((time.perf_counter() - start) * 1e3)
        assert status == 200, status
    return statistics.median(times), pct(times, 99)


def cpu_over(pid, seconds=10):
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - start)


def waiting_memory(binary, root, env, total=1000):
    project = project_for(root, "wait")
    server = Server(binary, project, env)
    states = []
    try:
        server.request("GET", "/health")
        time.sleep(1)

        def note(label):
            rss, hwm = status_of(server.pid)
            cpu = cpu_over(server.pid)
            p50, p99 = health_latency(server)
            waiting = list_latency(server, TOKEN, "?status=waiting&limit=50", 10)
            rss2, hwm2 = status_of(server.pid)
            states.append({"label": label, "rss": max(rss, rss2), "hwm": max(hwm, hwm2), "cpu": cpu,
                           "health": (p50, p99), "waiting": waiting, "load": os.getloadavg()[0],
                           "fds": len(os.listdir(f"/proc/{server.pid}/fd")), "threads": threads_of(server.pid)})

        note("idle, no run")
        started = 0
        for target in (100, total):
            while started < target:
                status, answer = server.request("POST", "/api/v1/runs", {"runbook": "gated"})
                if status != 201:
                    raise RuntimeError(f"POST /api/v1/runs: {status} {answer}")
                started += 1
            deadline = time.monotonic() + 120
            while True:
                status, answer = server.request("GET", f"/api/v1/runs?status=waiting&limit={total}")
                if status == 200 and len(answer["runs"]) >= target:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {len(answer['runs'])} of {target} runs waiting after 120 s")
                time.sleep(0.2)
            note(f"{target:,} runs waiting on an approval")
        # A wait is polled every 200 ms for 30 s, then every second.
        time.sleep(32)
        note(f"{total:,} runs waiting, all for over 30 s")
    finally:
        server.stop()
        shutil.rmtree(project, ignore_errors=True)
    return states


def report(binary, root, env, samples=300, seconds=30, levels=(1, 4, 16)):
    """The `serve` section as markdown lines (its `### ` heading first)."""
    wrk = wrk_path()
    env = dict(env, BENCH_TOKEN=TOKEN, BENCH_NARROW_TOKEN=NARROW_TOKEN, BENCH_HOOK_SECRET=HOOK_SECRET,
               BENCH_SLACK_SECRET=SLACK_SECRET)
    version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    root.mkdir(parents=True, exist_ok=True)
    out = ["\n### Server: `steward serve` (webhooks, runs per second, waiting runs)\n"]
    load_before = os.getloadavg()

    hook = webhook_latency(binary, root, env, samples)
    out.append(f"**Webhook to first step**: {hook['samples']} sequential signed Standard Webhooks deliveries "
               f"(`POST /hooks/bench`, each answered 202 before the next is sent once the previous run's "
               f"step ran; {hook['refused']} refused), runbook of one `shell` step writing `date +%s%N`.\n")
    out.append("| from the request being sent to | p50 | p99 | max |\n| --- | --- | --- | --- |")
    for label, values in (("the first step's `attempt_started` (audit `ts`)", hook["engine"]),
                          ("the first step's command running (`date +%s%N`)", hook["step"])):
        if values:
            out.append(f"| {label} | {pct(values, 50):.1f} ms | {pct(values, 99):.1f} ms | {max(values):.1f} ms |")

    slack = slack_answer(binary, root, env, min(samples, 200))
    values = slack["answer"]
    out.append(f"\n**Slack slash command to its answer**: {slack['samples']} sequential signed "
               f"`/runbook first n=N` commands ({slack['refused']} not started): checked, run recorded and "
               f"started, answered; Slack allows 3 s. p50 {pct(values, 50):.1f} ms, p99 {pct(values, 99):.1f} ms, "
               f"max {max(values):.1f} ms.\n")

    rows = sustained(binary, wrk, root, env, levels, seconds)
    out.append(f"\n**Sustained runs through `POST /api/v1/runs`**: {version.split(' [')[0]}, {seconds} s per level, "
               f"body `{{\"runbook\": \"noop\"}}` (one `shell: \"true\"` step), a fresh server and store per level. "
               f"runs/s counts the 201s; \"with drain\" also waits for the runs still going when wrk stops.\n")
    out.append("| connections | runs/s (201s) | with drain | latency p50 | p99 | errors | runs stored / 201s "
               "| server CPU (own threads) | peak RSS |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    def consistent(r):
        # wrk stops with up to one request per connection in flight: those
        # runs started, but their 201 was never read.
        return r["stored"] == r["succeeded"] and 0 <= r["stored"] - r["wrk"]["created"] <= r["c"]

    for r in rows:
        w = r["wrk"]
        check = "✓" if consistent(r) else "✗"
        out.append(f"| {r['c']} | {r['rate']:,.0f} | {r['done_rate']:,.0f} ({r['drain']:.1f} s) "
                   f"| {w['p50_us'] / 1e3:.1f} ms | {w['p99_us'] / 1e3:.1f} ms | {r['errors']} "
                   f"| {r['stored']:,} / {w['created']:,} {check} | {r['cpu'] * 100:.0f} % "
                   f"| {r['hwm'] / 1024:.1f} MiB |")
    out.append("\n✓: every stored run succeeded, and the store holds as many runs as 201s were counted, plus at "
               "most one per connection: the requests in flight when wrk stops start their runs, but wrk never "
               "reads their 201.")
    out.append("\n`GET /api/v1/runs?limit=50` over the store each level left (median of 30): "
               + "; ".join(f"{r['stored']:,} runs: {r['listing']['all']:.1f} ms with a `*` token, "
                           f"{r['listing']['narrow']:.1f} ms with a token limited to `no*`" for r in rows)
               + " (every stored run is one `no*` covers). A limited token reads the newest runs in rounds, "
                 "four times more each, until it has `limit` runs it covers (`runs::list`).")
    bad = [r for r in rows if not consistent(r)]
    if bad:
        out.append("\nMismatch: " + "; ".join(f"{r['c']} connections: {r['stored']} stored, {r['succeeded']} "
                                              f"succeeded, {r['wrk']['created']} 201s" for r in bad))

    states = waiting_memory(binary, root, env)
    out.append("\n**Memory and CPU with runs waiting on an approval** (runbook `gated`: an `approval` step, "
               "then a no-op; runs started one by one through the API; CPU of the server process over 10 s, "
               "100 % = one core; `GET /health` latency over 200 sequential requests):\n")
    out.append("| state | VmRSS | VmHWM | open files | threads | server CPU | `/health` p50 | p99 "
               "| `?status=waiting&limit=50` |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in states:
        out.append(f"| {s['label']} | {s['rss'] / 1024:.1f} MiB | {s['hwm'] / 1024:.1f} MiB | {s['fds']:,} "
                   f"| {s['threads']} | {s['cpu'] * 100:.1f} % | {s['health'][0]:.2f} ms | {s['health'][1]:.2f} ms "
                   f"| {s['waiting']:.1f} ms |")
    idle, hundred, full, settled = states[0], states[1], states[2], states[-1]
    per_run = (full["rss"] - idle["rss"]) / 1000
    out.append(f"\nAbout {per_run:,.0f} KiB of RSS, {(full['threads'] - idle['threads']) / 1000:.0f} thread and "
               f"{(full['fds'] - idle['fds']) / 1000:.0f} open files per waiting run (its store writer thread, "
               f"its lock file and its audit trail). Each waiting run asks the store for its decision every "
               f"200 ms for its first 30 s, then every second (`decision_poll` in src/host/control.rs): "
               f"1,000 runs that just started waiting take {full['cpu'] * 100:.1f} % of a core, "
               f"{settled['cpu'] * 100:.1f} % once all have waited over 30 s, against "
               f"{hundred['cpu'] * 100:.1f} % for 100 and {idle['cpu'] * 100:.1f} % idle. Listing waiting runs grows with their number: live statuses "
               f"are read without a limit and each run's lock file is probed.")
    loads = [os.getloadavg()[0]] + [r["load"] for r in rows] + [s["load"] for s in states]
    out.append(f"\nRelease build; store `.steward/steward.db` on disk (WAL, `synchronous=normal`); client and "
               f"server on the same 2 cores over loopback. Load average (1 min): {load_before[0]:.2f} at the "
               f"start, {min(loads):.2f}–{max(loads):.2f} during the measurements.")
    return out
