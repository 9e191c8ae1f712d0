#!/usr/bin/env python3
"""Steward's benchmark harness: the engine against bash, curl and Ansible.

    python3 benches/harness.py            # everything, 5 runs per case
    python3 benches/harness.py --runs 3 --only seq,startup
    python3 benches/harness.py --no-ansible --write-docs
    python3 benches/harness.py --only store --runs 9 --write-docs
    python3 benches/harness.py --only serve --write-docs   # `steward serve` under wrk (benches/serve.py)

Builds steward in release mode, generates the runbooks in a temp project,
runs each case several times as a cold process and reports the median wall
time (with min and max), CPU time (user + sys of the process tree) and peak
memory (max RSS of the largest process). Comparisons are ratios measured in
the same run, because the machine is shared and noisy. Ansible (ansible-core
from PyPI) is installed into target/bench-venv by the harness itself; where
that fails the Ansible cases are skipped with the reason.

With --write-docs the results in docs/performance.md (between the
`<!-- results -->` markers) are regenerated: all of them after a full run;
with --only, just the sections (`### ` headings) of the groups measured, each
with its own date line, and the other sections are kept as they are.
"""

import argparse
import http.server
import json
import os
import platform
import re
import shutil
import socketserver
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import serve

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "steward"
VENV = ROOT / "target" / "bench-venv"
GROUPS = ("seq", "http", "poll", "compile", "startup", "store", "serve")


class Sample:
    def __init__(self, wall, cpu, rss_kib, code):
        self.wall, self.cpu, self.rss_kib, self.code = wall, cpu, rss_kib, code


TIME = shutil.which("time") or "/usr/bin/time"


def measure(cmd, env=None, cwd=None):
    """Runs `cmd` once; wall time, CPU of the whole tree, peak RSS.

    GNU time starts the command: a child forked from Python would count
    Python's own memory in its peak RSS. CPU includes every descendant that
    was waited for, which bash and steward both do.
    """
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as usage:
        full = [TIME, "-q", "-o", usage.name, "-f", "%e %U %S %M"] + cmd
        # stderr goes to a file: a pipe nobody reads would fill up and block.
        start = time.perf_counter()
        proc = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {err.read().decode(errors='replace')[-2000:]}")
        _, user, sys_, rss = usage.read().split()[-4:]
    return Sample(elapsed, float(user) + float(sys_), int(rss), 0)


class Result:
    def __init__(self, name, samples):
        self.name = name
        walls = [s.wall for s in samples]
        self.median = statistics.median(walls)
        self.min, self.max = min(walls), max(walls)
        self.cpu = statistics.median(s.cpu for s in samples)
        self.rss_mib = max(s.rss_kib for s in samples) / 1024

    def row(self, base=None):
        ratio = f"{self.median / base.median:.2f}×" if base else ""
        return (f"| {self.name} | {self.median*1e3:,.0f} ms ({self.min*1e3:,.0f}–{self.max*1e3:,.0f}) "
                f"| {self.cpu*1e3:,.0f} ms | {self.rss_mib:.1f} MiB | {ratio} |")


def bench(name, cmd, runs, **kw):
    measure(cmd, **kw)  # warm the page cache
    return Result(name, [measure(cmd, **kw) for _ in range(runs)])


def bench_interleaved(cases, runs):
    """Cases measured round-robin (sample i of every case, then i + 1), so
    that a shared machine's drift hits them alike. A case is (name, cmd, kw,
    prepare); `prepare()` runs before each sample, outside the measurement."""
    samples = {name: [] for name, *_ in cases}
    for round_ in range(runs + 1):  # round 0 warms the page cache
        for name, cmd, kw, prepare in cases:
            prepare()
            sample = measure(cmd, **kw)
            if round_:
                samples[name].append(sample)
    return [Result(name, samples[name]) for name, *_ in cases]


def remove_db(path):
    """Deletes a SQLite database with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def fsyncs(cmd, env, prepare):
    """How many fsync/fdatasync calls `cmd` makes (one run under strace, not
    timed), or None without a working strace."""
    strace = shutil.which("strace")
    if not strace:
        return None
    prepare()
    with tempfile.NamedTemporaryFile("r") as log:
        try:
            subprocess.run([strace, "-f", "-c", "-o", log.name, "-e", "trace=fsync,fdatasync"] + cmd,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        except (subprocess.CalledProcessError, OSError):
            return None  # ptrace not allowed here
        rows = [line.split() for line in log.read().splitlines()]
    return sum(int(r[3]) for r in rows if len(r) >= 5 and r[-1] in ("fsync", "fdatasync"))


def uuid7(ms):
    """A UUIDv7 string for the millisecond timestamp `ms` (run ids are v7)."""
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | (((rand >> 64) & 0xFFF) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def clone_runs(db, total):
    """Grows a store holding one run to `total` runs by copying that run's
    rows, without knowing the schema: `runs` (keyed by `id`) and every table
    with a `run_id` column get a copy per new run, column lists read with
    PRAGMA table_info; an INTEGER PRIMARY KEY (rowid alias, like logs.id) is
    left out so that it takes new values. The copies go back one minute each
    (started_at/started_ms, finished_at), spread over ten runbook names, and
    one in seven failed. One transaction. Returns notes on tables left out."""
    con = sqlite3.connect(db, isolation_level=None)
    notes = []
    try:
        (orig,), = con.execute("SELECT id FROM runs").fetchall()
        cols = lambda t: con.execute(f'PRAGMA table_info("{t}")').fetchall()
        run_cols = {c[1] for c in cols("runs")}
        base = dict(zip([d[0] for d in con.execute("SELECT * FROM runs").description],
                        con.execute("SELECT * FROM runs").fetchone()))
        started_ms = base.get("started_ms") or int(time.time() * 1000)
        took = base.get("duration_ms") or 0
        iso = lambda ms: datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="microseconds")
        zulu = str(base.get("finished_at") or "").endswith("Z")
        finished = lambda ms: iso(ms).replace("+00:00", "Z") if zulu else iso(ms)
        con.execute("BEGIN IMMEDIATE")
        con.execute("CREATE TEMP TABLE clone (n INTEGER PRIMARY KEY, id TEXT, started_ms INTEGER, "
                    "started_at TEXT, finished_at TEXT, runbook TEXT, status TEXT)")
        rows = []
        for n in range(1, total):
            ms = started_ms - n * 60_000
            rows.append((n, uuid7(ms), ms, iso(ms), finished(ms + took),
                         base.get("runbook", "") + (f"-{n % 10}" if n % 10 else ""),
                         "failed" if n % 7 == 3 else base.get("status", "")))
        con.executemany("INSERT INTO temp.clone VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()]
        without_rowid = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%WITHOUT ROWID%'")}
        # runs first: the other tables refer to it.
        for table in sorted(tables, key=lambda t: t != "runs"):
            info = cols(table)
            names = [c[1] for c in info]
            key = "id" if table == "runs" else "run_id" if "run_id" in names else None
            if key is None:
                continue
            pk = [c for c in info if c[5]]
            alias = (len(pk) == 1 and pk[0][2].upper() == "INTEGER" and table not in without_rowid)
            keep = [c[1] for c in info if not (alias and c[5])]
            varied = {key: "c.id"}
            if table == "runs":
                varied.update({c: f"c.{c}" for c in ("started_ms", "started_at", "runbook", "status")
                               if c in run_cols})
                if "finished_at" in run_cols and base.get("finished_at"):
                    varied["finished_at"] = "c.finished_at"
            exprs = ", ".join(varied.get(c, f'x."{c}"') for c in keep)
            order = "c.n" if table in without_rowid else "c.n, x.rowid"
            column_list = ", ".join(f'"{c}"' for c in keep)
            try:
                con.execute(f'INSERT INTO "{table}" ({column_list}) SELECT {exprs} '
                            f'FROM "{table}" x, temp.clone c WHERE x."{key}" = ? ORDER BY {order}', (orig,))
            except sqlite3.IntegrityError as e:
                if table == "runs":
                    raise
                notes.append(f"table `{table}` not copied ({e}): a key besides run_id")
        con.execute("COMMIT")
    finally:
        con.close()
    return notes


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def seq_runbook(n, shell="true"):
    lines = [f"description: {n} sequential no-op steps", "steps:"]
    lines += [f'  - {{ id: s{i}, shell: "{shell}" }}' for i in range(n)]
    return "\n".join(lines) + "\n"


def ansible_ready(skip):
    if skip:
        return None, "skipped (--no-ansible)"
    playbook = VENV / "bin" / "ansible-playbook"
    if playbook.exists():
        return playbook, None
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "ansible-core"], check=True,
                       capture_output=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        detail = getattr(e, "stderr", b"") or b""
        return None, f"ansible-core could not be installed: {e} {detail.decode(errors='replace')[-300:]}"
    return playbook, None


def ansible_cmd(playbook, pb):
    """ansible-playbook on localhost with the venv's own Python."""
    python = VENV / "bin" / "python"
    return [str(playbook), "-i", "localhost,", "-e", f"ansible_python_interpreter={python}", str(pb)]


def ansible_playbook(tasks):
    body = ["- hosts: localhost", "  connection: local", "  gather_facts: false", "  tasks:"]
    body += tasks
    return "\n".join(body) + "\n"


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status": "healthy"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def http_supported(project):
    probe = write(project / "runbooks" / "probe-http.yaml",
                  "steps:\n  - { id: a, http: { url: 'http://127.0.0.1:9/' } }\n")
    ok = subprocess.run([str(BIN), "--project", str(project), "validate", str(probe)],
                        capture_output=True).returncode == 0
    probe.unlink()
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated: " + ",".join(GROUPS))
    ap.add_argument("--no-ansible", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--serve-seconds", type=int, default=30, help="serve: wrk's duration per connection count")
    ap.add_argument("--serve-samples", type=int, default=300, help="serve: webhook deliveries timed")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    if only - set(GROUPS):
        ap.error(f"unknown group(s) {', '.join(sorted(only - set(GROUPS)))}; known: {', '.join(GROUPS)}")
    want = lambda case: not only or case in only
    serve_skipped = None
    if want("serve"):
        try:
            serve.wrk_path()
        except serve.NoWrk as e:
            if "serve" in only:
                sys.exit(f"harness: {e}")
            serve_skipped = f"Server: skipped, {e}."

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    project = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    shm = None
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "GITLAB_CI")}
    env["NO_COLOR"] = "1"
    out = []
    notes = []
    try:
        (project / "runbooks").mkdir()
        if serve_skipped:
            notes.append(serve_skipped)
        playbook, why = ansible_ready(args.no_ansible or not (want("seq") or want("http")))
        if why and (want("seq") or want("http")):
            notes.append(f"Ansible: {why}")

        if want("seq"):
            out.append("\n### Engine overhead: N sequential no-op steps\n")
            out.append("| case | wall (min–max) | CPU | peak RSS | vs bash |\n| --- | --- | --- | --- | --- |")
            slope = {}
            for n in (50, 200, 1000):
                write(project / "runbooks" / f"seq{n}.yaml", seq_runbook(n))
                script = write(project / f"seq{n}.sh", "#!/usr/bin/env bash\n" + "bash -c true\n" * n)
                base = bench(f"bash, {n} × `bash -c true`", ["bash", str(script)], args.runs)
                st = bench(f"steward, {n} steps", [str(BIN), "--project", str(project), "run", f"seq{n}"],
                           args.runs, env=env)
                out += [base.row(), st.row(base)]
                slope[n] = (st.median, base.median)
                if playbook and n <= 200:
                    tasks = [f"    - command: /bin/true" for _ in range(n)]
                    pb = write(project / f"seq{n}.yml", ansible_playbook(tasks))
                    an = bench(f"ansible, {n} `command` tasks", ansible_cmd(playbook, pb),
                               max(1, min(args.runs, 3)), env=env)
                    out.append(an.row(base))
                    out.append(f"|  | steward is {an.median / st.median:,.0f}× faster than Ansible at N={n} | | | |")
            per_step = (slope[1000][0] - slope[50][0]) / 950
            per_bash = (slope[1000][1] - slope[50][1]) / 950
            out.append(f"\nPer-step cost (slope between N=50 and N=1000): steward {per_step*1e3:.2f} ms, "
                       f"bash {per_bash*1e3:.2f} ms; overhead {max(per_step - per_bash, 0)*1e3:.2f} ms per step.")

        if want("http"):
            out.append("\n### HTTP checks against a local server\n")
            if not http_supported(project):
                out.append("Skipped: this build has no `http` step kind yet.")
            else:
                server = Server(("127.0.0.1", 0), QuietHandler)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                url = f"http://127.0.0.1:{server.server_address[1]}/health"
                out.append("| case | wall (min–max) | CPU | peak RSS | vs curl |\n| --- | --- | --- | --- | --- |")
                steps = "\n".join(f"  - {{ id: h{i}, http: {{ url: '{url}' }} }}" for i in range(50))
                write(project / "runbooks" / "http50.yaml", f"steps:\n{steps}\n")
                loop = write(project / "curl50.sh", "#!/usr/bin/env bash\n" + f"curl -fsS -o /dev/null {url}\n" * 50)
                base = bench("curl, 50 sequential", ["bash", str(loop)], args.runs)
                out += [base.row(), bench("steward, 50 sequential", [str(BIN), "--project", str(project), "run", "http50"], args.runs, env=env).row(base)]
                if playbook:
                    pb = write(project / "http50.yml", ansible_playbook([f"    - uri: {{ url: '{url}' }}"] * 50))
                    out.append(bench("ansible, 50 `uri` tasks", ansible_cmd(playbook, pb),
                                     max(1, min(args.runs, 3)), env=env).row(base))
                steps = "\n".join(f"  - {{ id: h{i}, needs: [], http: {{ url: '{url}' }} }}" for i in range(1000))
                write(project / "runbooks" / "http1000.yaml", f"max_parallel: 100\nsteps:\n{steps}\n")
                urls = write(project / "urls.txt", f"{url}\n" * 1000)
                xargs = ["bash", "-c", f"xargs -P 100 -n 1 curl -fsS -o /dev/null < {urls}"]
                base = bench("curl, 1,000 with `xargs -P 100`", xargs, args.runs)
                out += [base.row(), bench("steward, 1,000 parallel (max_parallel 100)",
                                          [str(BIN), "--project", str(project), "run", "http1000"], args.runs, env=env).row(base)]
                server.shutdown()

        if want("poll"):
            out.append("\n### Retry-until polling: a check that holds on the k-th poll\n")
            out.append("| case | wall (min–max) | CPU | peak RSS | |\n| --- | --- | --- | --- | --- |")
            for k in (1, 10, 50):
                counter = project / f"count{k}"
                write(project / "runbooks" / f"poll{k}.yaml",
                      f"steps:\n  - id: poll\n    shell: n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}; echo $n\n"
                      f"    assert: ['result.stdout | trim | int >= {k}']\n"
                      f"    retry: {{ attempts: {k + 1}, delay: 10ms }}\n")
                script = write(project / f"poll{k}.sh", f"rm -f {counter}; exec {BIN} --project {project} run poll{k}\n")
                r = bench(f"steward, healthy on poll {k} (10 ms delay)", ["bash", str(script)], args.runs, env=env)
                out.append(r.row())
            out.append("\nThe difference between rows, divided by the extra polls, is the cost of one poll "
                       "(10 ms of it is the configured delay).")

        if want("compile"):
            out.append("\n### Compile: `steward validate` of generated runbooks\n")
            out.append("| case | wall (min–max) | CPU | peak RSS | vs 1k |\n| --- | --- | --- | --- | --- |")
            base = None
            for n in (1000, 10000, 50000):
                lines = ["description: generated", "steps:"]
                for i in range(n):
                    if i % 10 == 0:
                        lines.append(f"  - id: s{i}\n    shell: echo {{{{ inputs | length }}}} {i}")
                    else:
                        head = i - i % 10
                        lines.append(f"  - id: s{i}\n    needs: [s{head}]\n    shell: echo {{{{ steps.s{head}.result.stdout }}}}")
                path = write(project / "big" / f"big{n}.yaml", "\n".join(lines) + "\n")
                r = bench(f"validate {n:,} steps", [str(BIN), "--project", str(project), "validate", str(path)],
                          args.runs, env=env)
                out.append(r.row(base))
                base = base or r
            out.append("\nGrowth is near linear when the 10k and 50k ratios stay near 10× and 50×. "
                       "Finer figures: `cargo bench --bench compile`.")

        if want("startup"):
            out.append("\n### Startup: a cold process\n")
            out.append("| case | wall (min–max) | CPU | peak RSS | |\n| --- | --- | --- | --- | --- |")
            write(project / "runbooks" / "one.yaml", "steps:\n  - { id: a, shell: 'true' }\n")
            one = str(project / "runbooks" / "one.yaml")
            out.append(bench("`steward validate` (one runbook)", [str(BIN), "--project", str(project), "validate", one], args.runs, env=env).row())
            out.append(bench("`steward run one` (one step)", [str(BIN), "--project", str(project), "run", "one"], args.runs, env=env).row())
            out.append(bench("`bash -c true`", ["bash", "-c", "true"], args.runs).row())

        if want("store"):
            n = 200
            out.append(f"\n### Persistence: the {n}-step run, store on disk, on tmpfs, without fsync\n")
            write(project / "runbooks" / f"seq{n}.yaml", seq_runbook(n))
            run = lambda *store: [str(BIN), "--project", str(project), *store, "run", f"seq{n}"]
            disk = project / ".steward" / "steward.db"
            nosync = project / "nosync.db"
            full = project / "full.db"
            cases = [
                ("default store on disk (`synchronous=normal`)", run(), disk),
                ("store on tmpfs (`--store /dev/shm/…`)", None, None),
                ("`sqlite://…?synchronous=off` on disk", run("--store", f"sqlite://{nosync}?synchronous=off"), nosync),
                ("`sqlite://…?synchronous=full` on disk", run("--store", f"sqlite://{full}?synchronous=full"), full),
            ]
            if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
                shm = Path(tempfile.mkdtemp(prefix="steward-bench-", dir="/dev/shm"))
                cases[1] = (cases[1][0], run("--store", str(shm / "steward.db")), shm / "steward.db")
            else:
                notes.append("Store on tmpfs: skipped, /dev/shm is missing or not writable.")
            cases = [c for c in cases if c[1]]
            results = bench_interleaved(
                [(f"steward, {n} steps, {label}", cmd, {"env": env}, lambda db=db: remove_db(db))
                 for label, cmd, db in cases], args.runs)
            by = dict(zip([c[0] for c in cases], results))
            base = results[0]
            out.append("| case | wall (min–max) | CPU | peak RSS | vs default |\n| --- | --- | --- | --- | --- |")
            out += [base.row()] + [r.row(base) for r in results[1:]]
            lines = [f"- {label}: {(r.median - base.median) / n * 1e3:+.2f} ms wall, "
                     f"{(r.cpu - base.cpu) / n * 1e3:+.2f} ms CPU"
                     for label, r in by.items() if r is not base]
            out.append(f"\nPer step, against the default store on disk (difference of medians / {n}; "
                       f"negative: cheaper than the default):\n\n" + "\n".join(lines))
            synced = [(label, fsyncs(cmd, env, lambda db=db: remove_db(db))) for label, cmd, db in cases]
            if all(count is not None for _, count in synced):
                out.append("\nfsync/fdatasync calls per run (one run under `strace -f -c`, not timed): "
                           + "; ".join(f"{label}: {count}" for label, count in synced) + ".")
            out.append("\nEach sample starts from a deleted store (database, `-wal` and `-shm`), so every "
                       "case creates and migrates a fresh file; the cases' samples are interleaved.")

            out.append("\n### Store queries: `steward history` over 10,000 stored runs\n")
            total = 10_000
            steps = "\n".join(f'  - {{ id: s{i}, shell: "echo line {i}" }}' for i in range(5))
            write(project / "runbooks" / "five.yaml", f"description: five steps that print a line\nsteps:\n{steps}\n")
            hist = project / "history.db"
            at = ["--project", str(project), "--store", str(hist)]
            subprocess.run([str(BIN), *at, "run", "five"], env=env, check=True, capture_output=True)
            began = time.perf_counter()
            notes_clone = clone_runs(hist, total)
            built = time.perf_counter() - began
            con = sqlite3.connect(hist)
            count = con.execute("SELECT count(*) FROM runs").fetchone()[0]
            middle = con.execute("SELECT id FROM runs ORDER BY started_ms DESC LIMIT 1 OFFSET ?",
                                 (total // 2,)).fetchone()[0]
            tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            rows_of = lambda t: con.execute('SELECT count(*) FROM "%s"' % t).fetchone()[0]
            per_table = ", ".join(f"{t}: {rows_of(t):,}" for t in tables)
            matching = con.execute("SELECT count(*) FROM runs WHERE runbook = 'five' AND status = 'succeeded'").fetchone()[0]
            con.close()
            size = sum(Path(f"{hist}{s}").stat().st_size for s in ("", "-wal") if Path(f"{hist}{s}").exists())
            out.append(f"One real run of a 5-step runbook, copied to {count:,} runs ({per_table} rows; "
                       f"{size / 2**20:.1f} MiB) in {built:.1f} s by copying its rows in SQL: one run a minute, "
                       f"ten runbook names, one in seven failed, so `--runbook five --status succeeded` "
                       f"matches {matching:,} runs (and shows the newest 20).")
            out += [f"\n{x}" for x in notes_clone]
            out.append("\n| case | wall (min–max) | CPU | peak RSS | |\n| --- | --- | --- | --- | --- |")
            queries = [
                ("`steward history` (newest 20)", ["history"]),
                (f"`steward history --limit {total} --output json`", ["history", "--limit", str(total), "--output", "json"]),
                ("`steward history --runbook five --status succeeded`", ["history", "--runbook", "five", "--status", "succeeded"]),
                ("`steward history --runbook absent` (no match)", ["history", "--runbook", "absent"]),
                ("`steward show RUN` (5 steps)", ["show", middle]),
            ]
            for label, q in queries:
                out.append(bench(label, [str(BIN), *at, *q], args.runs, env=env).row())
        if want("serve") and not serve_skipped:
            out += serve.report(BIN, ROOT / "target" / "bench-serve", env,
                                samples=args.serve_samples, seconds=args.serve_seconds)
    finally:
        shutil.rmtree(project, ignore_errors=True)
        if shm:
            shutil.rmtree(shm, ignore_errors=True)

    per_case = "" if only == {"serve"} else f", {args.runs} runs per case (medians; min–max in brackets)"
    header = f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores{per_case}."
    report = "\n".join([header] + [f"\n{n}" for n in notes] + out) + "\n"
    print(report)
    if args.write_docs:
        doc = ROOT / "docs" / "performance.md"
        text = doc.read_text()
        start, end = "<!-- results -->", "<!-- /results -->"
        if start in text and end in text:
            old = text[text.index(start) + len(start): text.index(end)]
            region = merge_results(old, report, f"--only {args.only}" if only else None)
            text = text[: text.index(start) + len(start)] + region + text[text.index(end):]
            doc.write_text(text)
            print(f"updated {doc}")


def sections(region):
    """A results block as its preamble and its `### ` sections (title, text)."""
    parts = re.split(r"(?m)^(?=### )", region)
    return parts[0].strip(), [(p.split("\n", 1)[0].strip(), p.strip()) for p in parts[1:]]


def merge_results(old, report, partial):
    """The new results block. A full run replaces everything; a partial one
    (`partial` names it) replaces only the sections it measured, or appends
    them, each stamped with the report's date line, and keeps the rest."""
    if not partial:
        return "\n" + report
    header, new = sections(report)
    preamble, kept = sections(old)
    stamp = re.sub(r"^Measured (\S+)", lambda m: f"Measured {m[1]} (`{partial}`)", header.splitlines()[0])
    extra = "\n".join(header.splitlines()[1:]).strip()
    for title, body in new:
        head, _, rest = body.partition("\n")
        body = "\n\n".join(filter(None, [head, stamp, extra, rest.strip()]))
        extra = ""  # notes go with the first section only
        at = [i for i, (t, _) in enumerate(kept) if t == title]
        if at:
            kept[at[0]] = (title, body)
        else:
            kept.append((title, body))
    return "\n" + "\n\n".join([preamble] + [b for _, b in kept]) + "\n"


if __name__ == "__main__":
    main()
