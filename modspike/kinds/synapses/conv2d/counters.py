"""Conv2d operation counts: NeuroBench's ``SynapticOperations`` (effective and dense)."""

from .._conv.ops import dense_ops, events, fan_in  # noqa: F401
