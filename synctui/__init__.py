"""synctui: incremental sync jobs on a schedule, steered from a terminal."""

__version__ = "0.1.0"
