"""The terminal and the log file behind it: what a person reads, and the full record of a command."""
