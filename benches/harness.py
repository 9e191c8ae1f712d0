#!/usr/bin/env python3
"""Steward's benchmark harness: the engine against bash, curl and Ansible.

    python3 benches/harness.py            # everything, 5 runs per case
    python3 benches/harness.py --runs 3 --only seq,startup
    python3 benches/harness.py --no-ansible --write-docs

Builds steward in release mode, generates the runbooks in a temp project,
runs each case several times as a cold process and reports the median wall
time (with min and max), CPU time (user + sys of the process tree) and peak
memory (max RSS of the largest process). Comparisons are ratios measured in
the same run, because the machine is shared and noisy. Ansible (ansible-core
from PyPI) is installed into target/bench-venv by the harness itself; where
that fails the Ansible cases are skipped with the reason.

With --write-docs the results table in docs/performance.md (between the
`<!-- results -->` markers) is regenerated.
"""

import argparse
import http.server
import json
import os
import platform
import shutil
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "steward"
VENV = ROOT / "target" / "bench-venv"


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
    ap.add_argument("--only", default="", help="comma-separated: seq,http,poll,compile,startup")
    ap.add_argument("--no-ansible", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    want = lambda case: not only or case in only

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    project = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "GITLAB_CI")}
    env["NO_COLOR"] = "1"
    out = []
    notes = []
    try:
        (project / "runbooks").mkdir()
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
    finally:
        shutil.rmtree(project, ignore_errors=True)

    header = (f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
              f"{args.runs} runs per case (medians; min–max in brackets).")
    report = "\n".join([header] + [f"\n{n}" for n in notes] + out) + "\n"
    print(report)
    if args.write_docs:
        doc = ROOT / "docs" / "performance.md"
        text = doc.read_text()
        start, end = "<!-- results -->", "<!-- /results -->"
        if start in text and end in text:
            text = text[: text.index(start) + len(start)] + "\n" + report + text[text.index(end):]
            doc.write_text(text)
            print(f"updated {doc}")


if __name__ == "__main__":
    main()
