"""The text of the observation an apply plans from (VIEW_SNIPPETS), apart from its parsers
(kcli.core.cluster, kcli.core.facts.pods) so a background thread can start the round trip before
the parsers and the planner are imported."""

from __future__ import annotations

from kcli.core.network import POD_NETWORK

DNS_CONTAINER = "kcli-dns"
# One `docker inspect` of the pod network, the DNS server and every managed container: a node's
# pods, the addresses in use on its pod network and whether its DNS server runs, in 2 docker calls.
# (Objects that do not exist are left out of the array; docker then exits 1, which says nothing.)
PODS_SNIPPET = (
    "ids=$(docker ps -aq --filter label=io.kcli.managed=true) || exit; "
    f"docker inspect {POD_NETWORK} {DNS_CONTAINER} $ids 2>/dev/null; true"
)
PODNET_SNIPPET = f"docker network inspect {POD_NETWORK}"  # the pod network (get nodes, bootstrap)
DOCKER_VERSION_SNIPPET = "docker version --format '{{json .Server}}'"  # the node facts' docker
SECRET_VOLUMES = "/run/kcli/pods"  # kcli.core.podrun.SECRET_DIR: tmpfs, empty after a reboot
VIEW_SNIPPETS = {
    "cpus": "nproc",
    "meminfo": "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo",
    "now": "date +%s",
    "pods": PODS_SNIPPET,  # also the pod network's addresses and the DNS server's state
    "iptables": "iptables-save -t nat && iptables-save -t filter",
    "dns_file": "cat /var/lib/kcli/dns/cluster.hosts",
    "secret_dirs": f"ls -d {SECRET_VOLUMES}/*/secret/.*.ok 2>/dev/null; true",  # secret volumes written (their marks)
}
