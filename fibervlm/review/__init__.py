"""Human review of mined images: Label Studio / COCO exchange (`labelstudio`, `reviewed`), label
import graded by the rules (`importer`, `measure`), pseudo-labels (`pseudo`), and a simulated
reviewer for offline runs and benchmarks only (`simulated`).

Import the submodules themselves: `fibervlm.mining` writes queues with `review.labelstudio`, and
`review.importer` reuses the queue's folder publishing, so this package imports none of them.
"""
