"""The command-line interface: one small module per command, thin adapters over the library."""
