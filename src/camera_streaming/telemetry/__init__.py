"""Figures: the stats line and snapshots, process memory, systemd notifications."""
