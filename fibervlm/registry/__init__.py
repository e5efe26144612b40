"""Model registry: versioned adapters/checkpoints with hold-out metrics and an atomic `BEST` pointer.

The root is a local folder or `s3://...`; Serve loads `resolve_best(root, task)`.
"""

from fibervlm.registry.store import (
    BEST,
    MANIFEST_FILE,
    METRICS_FILE,
    PromotionDecision,
    RegistryError,
    VersionInfo,
    alias_version,
    best_version,
    list_versions,
    new_version,
    promote,
    publish,
    resolve_best,
    set_alias,
    show,
)

__all__ = [
    "BEST",
    "MANIFEST_FILE",
    "METRICS_FILE",
    "PromotionDecision",
    "RegistryError",
    "VersionInfo",
    "alias_version",
    "best_version",
    "list_versions",
    "new_version",
    "promote",
    "publish",
    "resolve_best",
    "set_alias",
    "show",
]
