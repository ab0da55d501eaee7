"""Plugin modules the tests load into ``eoms`` subprocesses through ``EOMS_PLUGINS`` (``tests.plugins.<name>``)."""
