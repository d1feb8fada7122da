"""The runs: one function per command for the CLI, the ingest pipeline, fetching over IMAP and
the coding workers.
"""
