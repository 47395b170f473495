"""The `scalekit` command line, end to end: CliRunner in process and real processes."""
