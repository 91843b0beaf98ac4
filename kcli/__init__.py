"""kcli: Kubernetes semantics without a control plane."""

__version__ = "0.1.0"
