"""Bulk import of CSV and Parquet files into the warehouse: validated, all or nothing."""
