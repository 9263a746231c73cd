"""The Deployments screen: the table, its actions (scale, restart, rollback, delete, logs), the
deploy form and canaries."""
