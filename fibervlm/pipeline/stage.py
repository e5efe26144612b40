"""The base of every backfill stage: a declared column contract that is checked on every batch.

A stage is a small callable class: expensive state in `__init__`, `process(batch) -> batch`. `Stage.__call__`
refuses a batch that lacks an input column, and a result that lacks an output column, naming the stage
and the keys, so a wiring mistake fails at its first batch with a message instead of a `KeyError`
deep inside a worker. Testable without Ray on a plain dict:

    >>> import numpy as np
    >>> class Double(Stage):
    ...     input_columns = ("x",)
    ...     output_columns = ("x2",)
    ...     def process(self, batch):
    ...         return {**batch, "x2": batch["x"] * 2}
    >>> Double()({"x": np.arange(3)})["x2"].tolist()
    [0, 2, 4]
    >>> Double()({"y": np.arange(3)})
    Traceback (most recent call last):
    ...
    fibervlm.pipeline.stage.StageContractError: Double: the batch lacks input column(s) ['x'] (it has ['y'])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar


class StageContractError(KeyError):
    """A batch or a stage's result that does not carry the columns the stage declares."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def _missing(columns: Iterable[str], batch: dict[str, Any]) -> list[str]:
    return [column for column in columns if column not in batch]


class Stage:
    """Checks `input_columns` before and `output_columns` after `process`; subclasses declare both."""

    input_columns: ClassVar[tuple[str, ...]] = ()
    output_columns: ClassVar[tuple[str, ...]] = ()

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """The input columns of this instance (a stage may read columns its config names)."""
        return self.input_columns

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        name = type(self).__name__
        missing = _missing(self.required_inputs, batch)
        if missing:
            raise StageContractError(
                f"{name}: the batch lacks input column(s) {missing} (it has {sorted(batch)})"
            )
        out = self.process(batch)
        missing = _missing(self.output_columns, out)
        if missing:
            raise StageContractError(f"{name}: its result lacks output column(s) {missing}")
        return out

    def process(self, batch: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError
