"""Schemathesis hooks for Tessera's contract test (scripts/contract-test).

Every request carries the bearer token of a role the operation allows: the first role its
`x-roles` lists, read from `$TESSERA_CONTRACT_TOKENS/<role>` (the `tokens/` directory `tessera
up` writes). Public operations (no `x-roles`) get no token.
"""

import os
from pathlib import Path

import schemathesis

TOKENS = Path(os.environ["TESSERA_CONTRACT_TOKENS"])


def token_for(role: str) -> str:
    """The API token of `role` from the cluster's token directory."""
    return (TOKENS / role).read_text().strip()


@schemathesis.auth(refresh_interval=None)
class RoleToken:
    """Picks the token of the first role the operation's `x-roles` allows."""

    def get(self, case, context):
        roles = context.operation.definition.raw.get("x-roles") or []
        return token_for(roles[0]) if roles else None

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


# Long polls: the coordinator waits up to `wait_ms` (capped at 60 s) for a running request or
# session. The seeded request awaiting approval never finishes, so a generated wait would hold
# a worker for up to a minute; valid waits (integers up to 2^64 - 1) are cut to WAIT_CAP_MS.
# Invalid values, which the coordinator must refuse with a 400, are sent as generated.
WAIT_CAP_MS = 500
WAIT_MAX = 2**64 - 1


@schemathesis.hook
def before_call(context, case, kwargs):
    wait = (case.query or {}).get("wait_ms")
    if isinstance(wait, int) and not isinstance(wait, bool) and WAIT_CAP_MS < wait <= WAIT_MAX:
        case.query["wait_ms"] = WAIT_CAP_MS


# Every response's operation and status, one line each, for run.py's coverage summary.
STATS = os.environ.get("TESSERA_CONTRACT_STATS")


@schemathesis.hook
def after_call(context, case, response):
    if STATS:
        with open(STATS, "a") as f:
            f.write(f"{case.operation.label}\t{response.status_code}\n")
