"""Sales scripts for the host, varied over time."""
