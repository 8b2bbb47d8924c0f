"""The AWS pipeline client as the plugin loads it, and its worker process."""
