"""describe deployment's Conditions: Available and Progressing, ProgressDeadlineExceeded included."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from types import SimpleNamespace

import yaml

from kcli.cli.workload_get import deployment_conditions
from kcli.core.controllers.deployment import DeploymentStatus
from kcli.core.objects import build_object

DEPLOY = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  progressDeadlineSeconds: 60
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: busybox}]}
""")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def snap(seconds_later: float) -> SimpleNamespace:
    revs = {"Deployment/default/web": [{"revision": 2, "at": T0.isoformat()}]}
    return SimpleNamespace(state={"revisions": revs}, now=T0.timestamp() + seconds_later)


def status(available: int, rollout: str = "") -> DeploymentStatus:
    return DeploymentStatus(4, 4, 4, available, available, "web-abc", (), rollout)


def test_complete_in_progress_and_past_the_deadline():
    d = build_object(DEPLOY)
    assert deployment_conditions(d, status(4), snap(5)) == [
        ("Available", "True", "MinimumReplicasAvailable"),
        ("Progressing", "True", "NewReplicaSetAvailable"),
    ]
    line = 'Waiting for deployment "web" rollout to finish: 1 out of 4 new replicas have been updated...'
    assert deployment_conditions(d, status(3, line), snap(30))[1] == ("Progressing", "True", "ReplicaSetUpdated")
    assert deployment_conditions(d, status(3, line), snap(61)) == [  # maxUnavailable 25 % of 4 = 1: 3 is enough
        ("Available", "True", "MinimumReplicasAvailable"),
        ("Progressing", "False", "ProgressDeadlineExceeded"),
    ]
    assert deployment_conditions(d, status(2, line), snap(5))[0] == ("Available", "False", "MinimumReplicasUnavailable")
    paused = dataclasses.replace(d, paused=True)
    assert deployment_conditions(paused, status(4), snap(5))[1] == ("Progressing", "Unknown", "DeploymentPaused")
