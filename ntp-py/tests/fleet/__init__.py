"""Fixtures of the monitor's fleet test (real daemons on a private loopback)."""
