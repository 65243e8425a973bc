"""Checks are pure functions over a case's tables: ``check(inputs, policy) -> list[Finding]``.
``base/`` is always on; the policy (policy.py) tunes what is allowed and what counts."""
