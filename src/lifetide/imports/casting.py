"""SQL (DuckDB) that turns a staged column into its warehouse type, or NULL if it cannot.

Text from CSV is checked against a strict pattern before casting, because DuckDB's casts
are lenient in ways that would corrupt data silently: '12.345' casts to the integer 12,
and a timestamp's '+02:00' offset is dropped by a plain cast to TIMESTAMP.
Identifiers here are always warehouse column names from our schema, never file content.
"""

from __future__ import annotations

from lifetide.warehouse.schema import MONEY, Column

_INTEGER = r"[+-]?[0-9]+"
_MONEY = r"[+-]?([0-9]+(\.[0-9]{0,2})?|\.[0-9]{1,2})"
_BOOLEANS = "('true','false','t','f','1','0','yes','no','y','n')"

EXPECTED: dict[str, str] = {
    "string": "text",
    "json": "a JSON value",
    "int32": "a whole number",
    "int64": "a whole number",
    "float64": "a number",
    "boolean": "true or false (also t/f, yes/no, 1/0)",
    "date": "a date like 2024-05-01",
    "timestamp": "a timestamp like 2024-05-01T13:45:00Z (ISO 8601; no zone means UTC)",
    MONEY: "an amount with at most 2 decimals, like 12.50",
}

_SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "json": "JSON",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    MONEY: "DECIMAL(18,2)",
}


def quote(identifier: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + identifier.replace('"', '""') + '"'


def sql_type(column: Column) -> str:
    """The DuckDB type of a warehouse column."""
    return _SQL_TYPES[column.dtype]


def cast_expression(column: Column, source_type: str | None) -> str:
    """SQL giving the column's value in its warehouse type, NULL where it does not convert.

    `source_type` is the staged column's DuckDB type, or None when the file lacks it.
    """
    target = sql_type(column)
    if source_type is None:
        return f"CAST(NULL AS {target})"
    col = quote(column.name)
    if source_type != "VARCHAR":
        return _cast_typed(column, col, source_type, target)
    text = f"trim({col})"
    match column.dtype:
        case "string":
            return col
        case "json":
            return f"CASE WHEN json_valid({col}) THEN CAST({col} AS JSON) END"
        case "int32" | "int64":
            return _when_matches(text, _INTEGER, f"TRY_CAST({text} AS {target})")
        case "boolean":
            lowered = f"lower({text})"
            return f"CASE WHEN {lowered} IN {_BOOLEANS} THEN TRY_CAST({lowered} AS BOOLEAN) END"
        case "timestamp":
            return f"(TRY_CAST({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
        case _ if column.dtype == MONEY:
            return _when_matches(text, _MONEY, f"TRY_CAST({text} AS {target})")
        case _:
            return f"TRY_CAST({text} AS {target})"


def _when_matches(text: str, pattern: str, cast: str) -> str:
    return f"CASE WHEN regexp_full_match({text}, '{pattern}') THEN {cast} END"


def _cast_typed(column: Column, col: str, source_type: str, target: str) -> str:
    if column.dtype == "timestamp" and source_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"({col} AT TIME ZONE 'UTC')"
    if column.dtype == "json" and source_type != "JSON":
        return f"CASE WHEN json_valid(CAST({col} AS VARCHAR)) THEN CAST({col} AS JSON) END"
    return f"TRY_CAST({col} AS {target})"
