"""Job controller: run pods to completion; status Complete or Failed, computed from observed pods.

* succeeded = pods exited 0; failed = pods exited non-zero, plus broken pods (deleted by hand
  while running, as upstream counts them), plus container restarts under ``OnFailure`` (docker's
  ``--restart=on-failure`` restarts in place; upstream counts those against backoffLimit too).
* Complete when succeeded ≥ completions (work-queue Job without completions: when one pod
  succeeded and none is still active); Failed (BackoffLimitExceeded) when failed > backoffLimit.
  A finished Job deletes its still-active pods and creates none; finished pods are kept.
* Otherwise active pods are brought to ``min(parallelism, completions - succeeded)``.
* Pods are ``<job>-<5 chars>`` labelled ``batch.kubernetes.io/job-name`` and ``job-name``.
  The template is immutable upstream, so the spec hash is not used to replace pods.
* ``suspend: true`` deletes active pods and creates none. No retry backoff delay (needs a clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kcli.core.controllers.pod import (
    Context,
    ControllerResult,
    DesiredPod,
    ObservedPod,
    OwnerRef,
    PodAction,
    create,
    delete,
    pick_victims,
    pod_spec_hash,
)
from kcli.core.objects import Job

JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")


@dataclass(frozen=True)
class JobStatus:
    active: int
    succeeded: int
    failed: int
    condition: str  # "" (running), "Complete", "Failed", "Suspended"
    reason: str = ""  # e.g. BackoffLimitExceeded

    @property
    def finished(self) -> bool:
        return self.condition in ("Complete", "Failed")


def job_status(job: Job, observed: Sequence[ObservedPod]) -> JobStatus:
    succeeded = sum(1 for p in observed if p.state == "exited" and p.exit_code == 0)
    failed = sum(1 for p in observed if (p.state == "exited" and p.exit_code != 0) or p.state == "broken")
    if job.template.spec.restart_policy == "OnFailure":
        failed += sum(p.restart_count for p in observed)
    active = sum(1 for p in observed if p.state in ("running", "created", "restarting"))
    if failed > job.backoff_limit:
        return JobStatus(active, succeeded, failed, "Failed", "BackoffLimitExceeded")
    if job.completions is not None and succeeded >= job.completions:
        return JobStatus(active, succeeded, failed, "Complete")
    if job.completions is None and succeeded > 0 and active == 0:
        return JobStatus(active, succeeded, failed, "Complete")
    if job.suspend:
        return JobStatus(active, succeeded, failed, "Suspended", "JobSuspended")
    return JobStatus(active, succeeded, failed, "")


def reconcile_job(job: Job, observed: Sequence[ObservedPod], ctx: Context) -> ControllerResult:
    applied = owner = OwnerRef("Job", job.name)
    shash = pod_spec_hash(job.template, ctx.config_fingerprint(job.template.spec, job.namespace))
    labels = {**job.template.labels, **{k: job.name for k in JOB_NAME_LABELS}}
    status = job_status(job, observed)
    active = [p for p in observed if p.state in ("running", "created", "restarting")]
    actions: list[PodAction] = []
    for p in sorted(observed, key=lambda p: p.name):
        if p.state == "broken":
            actions.append(
                delete(p, f"job {job.name}: pod {p.name} is broken" + (f": {p.detail}" if p.detail else ""), applied)
            )
    if status.finished or job.suspend:
        want = 0
        why = f"job {job.name} {status.condition.lower() or 'suspended'}" + (
            f": {status.reason}" if status.reason else ""
        )
    elif job.completions is None:  # work queue: after a success, let active pods finish, start none
        want = job.parallelism if status.succeeded == 0 else len(active)
        why = f"job {job.name}: parallelism {job.parallelism}"
    else:
        want = min(job.parallelism, job.completions - status.succeeded)
        why = f"job {job.name}: {status.succeeded}/{job.completions} succeeded, parallelism {job.parallelism}"
    keep = active
    if len(active) > want:
        victims = pick_victims(active, len(active) - want)
        actions.extend(delete(p, why, applied) for p in victims)
        gone = {p.name for p in victims}
        keep = [p for p in active if p.name not in gone]
    finished = [p for p in observed if p.state == "exited"]
    pods = [
        DesiredPod(job.namespace, p.name, labels, job.template, p.spec_hash or shash, applied, owner)
        for p in sorted(keep + finished, key=lambda p: p.name)
    ]
    for _ in range(want - len(keep)):
        pod = DesiredPod(
            job.namespace, ctx.new_name(job.namespace, job.name), labels, job.template, shash, applied, owner
        )
        pods.append(pod)
        actions.append(create(pod, why))
    return ControllerResult(tuple(pods), tuple(actions), status)
