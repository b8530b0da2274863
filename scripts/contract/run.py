"""The API contract test (scripts/contract-test runs this inside its virtualenv).

Starts a local cluster with `tessera up`, gives it something to read (two wallets, signed
requests, a request awaiting approval), then runs Schemathesis against the coordinator's own
`/v1/openapi.json` over TLS with the cluster's CA and each operation's role token, and stops the
cluster. Exit status: Schemathesis's (0 when every check passed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "target" / "contract"

# What every response is checked for. Left out, with the reason:
# - positive_data_acceptance: a schema-valid body is routinely refused on purpose (a bad
#   signature or authorization, a wallet that does not exist, a stale policy version);
# - use_after_free, ensure_resource_availability: the API has no DELETE;
# - max_response_time: timing on a shared CI machine is not a contract.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
]

# Excluded operations: the request event stream never ends (`GET /v1/events` sends only
# keep-alive comments until something changes; its head is checked by the coordinator's tests),
# and the signer link is a WebSocket (`GET /v1/link`: after its 101 the connection carries
# binary frames, which an HTTP client reusing it reads as a broken response; the link's
# handshake is tested with real signers).
EXCLUDED_PATHS = ["/v1/events", "/v1/link"]


def log(msg: str) -> None:
    print(f"[contract] {msg}", flush=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", required=True, help="the tessera binary")
    p.add_argument("--examples", type=int, default=40, help="max examples per operation")
    p.add_argument("--seed", type=int, default=14, help="Schemathesis seed")
    p.add_argument("--keep", action="store_true", help="keep the cluster directory")
    return p.parse_args()


class Cluster:
    """A `tessera up` process and its directory."""

    def __init__(self, exe: str, parent: Path) -> None:
        self.exe = exe
        self.dir = Path(tempfile.mkdtemp(prefix="cluster-", dir=parent))
        self.log = open(self.dir.parent / f"{self.dir.name}.log", "w")
        env = dict(os.environ, TESSERA_TEST_FIXTURE_PRIMES="1", NO_COLOR="1")
        self.proc = subprocess.Popen(
            [exe, "up", "--dir", str(self.dir)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.info = self._wait_ready(timeout=180)
        self.url = self.info["url"]
        self.ca = self.info["ca_file"]

    def _wait_ready(self, timeout: float) -> dict:
        # `tessera up` writes cluster.json once signers are linked and hold the policy.
        deadline = time.monotonic() + timeout
        path = self.dir / "cluster.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"tessera up exited ({self.proc.returncode}); see {self.log.name}")
            if path.exists():
                try:
                    return json.loads(path.read_text())
                except json.JSONDecodeError:
                    pass
            time.sleep(0.3)
        raise SystemExit(f"the cluster did not start in {timeout:.0f}s; see {self.log.name}")

    def tessera(self, *args: str, timeout: float = 120) -> str:
        """Runs a `tessera` command against this cluster and returns its standard output."""
        out = subprocess.run(
            [self.exe, *args, "--cluster", str(self.dir)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"tessera {' '.join(args)} failed:\n{out.stderr}")
        return out.stdout

    def get(self, path: str, role: str = "viewer"):
        token = (self.dir / "tokens" / role).read_text().strip()
        r = requests.get(
            self.url + path,
            headers={"Authorization": f"Bearer {token}"},
            verify=self.ca,
            timeout=30,
        )
        r.raise_for_status()
        return r.json()

    def stop(self, keep: bool) -> None:
        # Signers and the coordinator exit when `tessera up` (their stdin) goes away.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if not keep:
            subprocess.run(["rm", "-rf", str(self.dir)], check=False)


ERC20_ABOVE_TIER = {
    "type": "eip1559",
    "nonce": 1,
    "gas_limit": 65000,
    "max_fee_per_gas_wei": "30000000000",
    "max_priority_fee_per_gas_wei": "1000000000",
    "erc20_transfer": {
        "token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        "to": "0x000000000000000000000000000000000000dEaD",
        "amount": "2500000000",
    },
}

SOL_TRANSFER = {
    "recent_blockhash": "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N",
    "transfers": [{"to": "11111111111111111111111111111112", "lamports": 1000}],
}


def seed(c: Cluster) -> dict[str, list[str]]:
    """Gives the cluster data to serve, so reads reach their 200 answers: an ed25519 and a
    dkls23 wallet, a signed message, a signed Solana transfer and an ERC-20 transfer above the
    local-dev tier left awaiting approval. Returns the identifiers by kind."""
    c.tessera("wallet", "create", "--scheme", "ed25519", "--id", "ct-ed25519",
              "--network", "solana:devnet")
    c.tessera("wallet", "create", "--scheme", "ecdsa-secp256k1/dkls23", "--id", "ct-dkls23",
              "--network", "ethereum:mainnet")
    c.tessera("sign", "--wallet", "ct-ed25519", "--message", "contract test")
    c.tessera("tx", "sign", "--wallet", "ct-ed25519", "--chain", "solana", "--network",
              "devnet", "--spec", json.dumps(SOL_TRANSFER))
    # Waits for an approver that never comes: stopped once the request is recorded.
    pending = subprocess.Popen(
        [c.exe, "tx", "sign", "--cluster", str(c.dir), "--wallet", "ct-dkls23", "--chain",
         "ethereum", "--network", "mainnet", "--spec", json.dumps(ERC20_ABOVE_TIER)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(r["state"] == "awaiting_approvals" for r in c.get("/v1/requests")):
            if time.monotonic() > deadline:
                raise SystemExit("the ERC-20 transfer never reached awaiting_approvals")
            time.sleep(0.3)
    finally:
        pending.terminate()
        pending.wait()
    wallets = ["ct-ed25519", "ct-dkls23"]
    tx_requests = [t["request_id"] for w in wallets for t in c.get(f"/v1/wallets/{w}/transactions")]
    return {
        "wallets": wallets,
        "requests": [r["request_id"] for r in c.get("/v1/requests")],
        "sessions": [s["session_id"] for s in c.get("/v1/sessions")],
        "signers": [s["node_id"] for s in c.info["signers"]],
        "transactions": tx_requests,
    }


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def config(ids: dict[str, list[str]], args: argparse.Namespace) -> str:
    """A Schemathesis config: the checks, and the seeded identifiers as dictionaries that path
    parameters take most of the time (generated values the rest, to reach the 404s)."""
    lines = [
        f"seed = {args.seed}",
        "request-timeout = 20",
        "[generation]",
        f"max-examples = {args.examples}",
        "[checks]",
        "enabled = false",
    ]
    lines += [f"{name}.enabled = true" for name in CHECKS]
    for kind, values in ids.items():
        lines += [f"[dictionaries.{kind}]", f"values = {toml_list(values)}"]

    def bind(path_regex: str, bindings: dict[str, str]) -> None:
        lines.extend(["[[operations]]", f"include-path-regex = {json.dumps(path_regex)}"])
        for param, kind in bindings.items():
            lines.append(
                f'parameters."path.{param}" = {{ dictionary = "{kind}", probability = 0.7 }}'
            )

    bind("^/v1/wallets/\\{id\\}(/keys|/signatures|/transactions|/transactions/build)?$",
         {"id": "wallets"})
    bind("^/v1/wallets/\\{id\\}/transactions/\\{request\\}$",
         {"id": "wallets", "request": "transactions"})
    bind("^/v1/requests/\\{id\\}(/approvals)?$", {"id": "requests"})
    bind("^/v1/sessions/\\{id\\}$", {"id": "sessions"})
    bind("^/v1/signers/\\{node_id\\}/audit$", {"node_id": "signers"})
    return "\n".join(lines) + "\n"


def schemathesis(c: Cluster, cfg: Path, report: Path) -> int:
    env = dict(
        os.environ,
        TESSERA_CONTRACT_TOKENS=str(c.dir / "tokens"),
        TESSERA_CONTRACT_STATS=str(report / "statuses.tsv"),
        SCHEMATHESIS_HOOKS="hooks",
        PYTHONPATH=str(HERE),
    )
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file", str(cfg),
        "run", f"{c.url}/v1/openapi.json",
        "--tls-verify", c.ca,
        "--workers", "1",
        "--report", "junit,ndjson",
        "--report-dir", str(report),
        "--report-junit-path", str(report / "junit.xml"),
        "--report-ndjson-path", str(report / "events.ndjson"),
    ]
    for p in EXCLUDED_PATHS:
        cmd += ["--exclude-path", p]
    report.mkdir(parents=True, exist_ok=True)
    (report / "statuses.tsv").write_text("")
    # Schemathesis keeps its example database in .schemathesis/ under the working directory.
    return subprocess.run(cmd, env=env, cwd=WORK, check=False).returncode


def summary(report: Path) -> None:
    """Prints, per operation, how many responses came back with which status."""
    by_op: dict[str, dict[int, int]] = {}
    for line in (report / "statuses.tsv").read_text().splitlines():
        op, status = line.rsplit("\t", 1)
        counts = by_op.setdefault(op, {})
        counts[int(status)] = counts.get(int(status), 0) + 1
    total = sum(sum(c.values()) for c in by_op.values())
    ok = sum(1 for c in by_op.values() if any(200 <= s < 300 for s in c))
    log(f"{total} responses from {len(by_op)} operations ({ok} answered 2xx at least once):")
    for op in sorted(by_op, key=lambda o: o.split(" ", 1)[::-1]):
        counts = ", ".join(f"{s}×{n}" for s, n in sorted(by_op[op].items()))
        log(f"  {op}: {counts}")


def main() -> int:
    args = parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log("starting a local cluster (tessera up)")
    cluster = Cluster(args.bin, WORK)
    try:
        log(f"cluster at {cluster.url} ({cluster.dir}); seeding wallets and requests")
        ids = seed(cluster)
        log("seeded: " + ", ".join(f"{len(v)} {k}" for k, v in ids.items()))
        cfg = WORK / "schemathesis.toml"
        cfg.write_text(config(ids, args))
        report = WORK / "report"
        log(f"schemathesis: {args.examples} examples per operation, seed {args.seed}")
        rc = schemathesis(cluster, cfg, report)
        summary(report)
    finally:
        cluster.stop(args.keep)
    log(f"done in {time.monotonic() - started:.0f}s; reports in {WORK / 'report'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
