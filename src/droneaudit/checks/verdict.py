"""The verdict: did local data mode hold? ``fail`` needs in-scope egress that the policy does not allow;
``pass`` needs a capture that could have shown egress; anything else is ``inconclusive``, with reasons."""

from __future__ import annotations

from droneaudit.checks.base.egress import CHECKS, allowed, in_scope
from droneaudit.checks.context import CheckInput
from droneaudit.checks.policy import Policy
from droneaudit.model import Finding, Verdict, severity_rank

#: Problems that mean part of the evidence could not be read.
DAMAGE = frozenset(
    {
        "truncated-record",
        "bad-record-length",
        "truncated-block",
        "bad-block-length",
        "bad-byte-order-magic",
        "missing-section-header",
        "gzip-truncated",
        "gzip-corrupt",
        "decompression-limit",
        "unknown-link-type",
        "internal-error",
        "truncated-file-header",
    }
)


def findings(inp: CheckInput, policy: Policy) -> list[Finding]:
    out = [f for check in CHECKS for f in check(inp, policy)]
    return sorted(out, key=lambda f: (-severity_rank(f.severity), f.code, f.host or "", f.file))


def verdict(inp: CheckInput, policy: Policy) -> Verdict:
    leaks = [ep for ep in inp.endpoints if in_scope(ep, policy) and not allowed(ep, policy)]
    caveats = inconclusive_reasons(inp)
    scope = policy.scope
    if leaks:
        total = sum(ep.bytes_up + ep.bytes_down for ep in leaks)
        names = ", ".join(ep.label for ep in sorted(leaks, key=lambda e: -(e.bytes_up + e.bytes_down))[:5])
        summary = f"internet egress: {total} bytes exchanged with {len(leaks)} remote(s) ({names})"
        return Verdict("fail", scope, summary, tuple(f"egress to {ep.label}" for ep in leaks) + caveats)
    if caveats:
        return Verdict(
            "inconclusive", scope, "the capture cannot support a pass: " + "; ".join(caveats), caveats
        )
    return Verdict("pass", scope, "no internet egress from the device in this capture", ())


def inconclusive_reasons(inp: CheckInput) -> tuple[str, ...]:
    reasons = list(inp.scope_reasons)
    flows = inp.flows
    if inp.readable_inputs == 0 or inp.stats.ip_packets == 0:
        reasons.append("no IP traffic in the capture (empty or unreadable)")
    else:
        up = sum(v or 0 for v in flows.column("packets_up").to_pylist())
        down = sum(v or 0 for v in flows.column("packets_down").to_pylist())
        if up == 0:
            reasons.append("no traffic from the device (wrong device, or the capture point missed it)")
        elif down == 0:
            reasons.append("one-way capture: nothing came back to the device")
    if inp.stats.dropped_by_capture:
        reasons.append(f"the capture reports {inp.stats.dropped_by_capture} dropped packets")
    damaged = sorted({p.file for p in inp.problems if p.code in DAMAGE})
    if damaged:
        reasons.append(f"unreadable parts in {len(damaged)} file(s): {', '.join(damaged[:3])}")
    return tuple(reasons)


def exit_code(v: Verdict | None, found: list[Finding], fail_on: str) -> int:
    """0: pass (or no verdict: no capture was scanned) and no finding at or above ``fail_on``; 1 otherwise."""
    worst = max((severity_rank(f.severity) for f in found), default=-1)
    return 0 if (v is None or v.status == "pass") and worst < severity_rank(fail_on) else 1
