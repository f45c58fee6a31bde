"""Prefect flows and the I/O around them: sources, validation, exports, reports, CLI."""
