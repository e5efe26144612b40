"""fibervlm: inspection images to validated JSON defect reports, at fleet scale, on Ray."""

__version__ = "0.1.0"
