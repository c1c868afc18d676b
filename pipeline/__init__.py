"""Pipeline definition, configuration, runners and the runtime they run in."""
