"""The drawings task: synthetic parts and their views, OCR, OpenSCAD export, metrics and a baseline.

Knows no models and no Ray (layer 3): the VLM reads the views through `fibervlm.vlm` like any task.
"""
