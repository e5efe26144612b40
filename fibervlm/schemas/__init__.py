"""Report contracts. Imports nothing else of fibervlm."""

from fibervlm.schemas.base import (
    StrictModel,
    describe_validation_error,
    json_schema,
    schema_hash,
    stable_hash,
)
from fibervlm.schemas.endface import (
    DEFECT_TYPES,
    GRID,
    LINEAR_TYPES,
    MAX_DEFECTS,
    SEVERITIES,
    Defect,
    DefectType,
    EndfaceReport,
    FibreProfile,
    PassFail,
    Provenance,
    RuleViolation,
    VlmDefect,
    VlmReport,
    ZoneGeometry,
    ZoneName,
)
from fibervlm.schemas.infra import InfraObject, InfraReport

__all__ = [
    "DEFECT_TYPES",
    "GRID",
    "LINEAR_TYPES",
    "MAX_DEFECTS",
    "SEVERITIES",
    "Defect",
    "DefectType",
    "EndfaceReport",
    "FibreProfile",
    "InfraObject",
    "InfraReport",
    "PassFail",
    "Provenance",
    "RuleViolation",
    "StrictModel",
    "VlmDefect",
    "VlmReport",
    "ZoneGeometry",
    "ZoneName",
    "describe_validation_error",
    "json_schema",
    "schema_hash",
    "stable_hash",
]
