"""Issue 12: the fields real-world manifests carry on nearly every workload (ServiceAccounts,
securityContext, Services without targetPort or with 0, the downward API's status.hostIP and
metadata.uid, a StatefulSet with claims) are accepted by `kcli apply --dry-run=client`, and the
only warning is about what kcli really ignores (no service account token)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "realworld"


def test_a_microservice_shop_is_accepted_and_warned_only_about_what_is_ignored():
    res = subprocess.run(
        [sys.executable, "-m", "kcli", "apply", "--dry-run=client", "-f", str(FIXTURES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "serviceaccount/cart created (dry run)",
        "deployment.apps/cart created (dry run)",
        "service/cart created (dry run)",
        "service/web created (dry run)",
        "service/ratings-db created (dry run)",
        "statefulset.apps/ratings-db created (dry run)",
    ]
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "no service account token is mounted" in warnings[0], res.stderr
    assert "hostIP" not in res.stderr and "metadata.uid" not in res.stderr and "ignored" not in res.stderr
