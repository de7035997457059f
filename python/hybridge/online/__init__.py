"""Online evaluation of hybrid runs: drive hybridge-host, compare a hybrid run with the
reference run of the conventional physics, write the report (``hybridge demo``)."""
