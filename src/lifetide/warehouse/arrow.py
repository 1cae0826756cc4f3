"""Arrow types for the warehouse tables, for writers of Parquet and Arrow batches."""

from __future__ import annotations

import pyarrow as pa

from lifetide.warehouse.schema import Table

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "decimal(18, 2)": pa.decimal128(18, 2),
}


def arrow_type(dtype: str) -> pa.DataType:
    """The Arrow type that stores a warehouse column of type `dtype`."""
    return _ARROW_TYPES[dtype]


def arrow_schema(table: Table) -> pa.Schema:
    """The Arrow schema of a warehouse table, columns in table order."""
    return pa.schema(
        [pa.field(c.name, arrow_type(c.dtype), nullable=c.nullable) for c in table.columns]
    )
