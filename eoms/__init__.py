"""EOMS application wiring: settings from ``EOMS_*`` variables and the ``eoms`` command line."""
