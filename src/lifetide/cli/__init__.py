"""The `lifetide` command line (Typer)."""
