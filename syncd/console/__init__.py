"""The operator console: /status pages, their actions and /metrics, behind the operator
credential (syncd.console.auth), and the daemon job hooks that feed them (jobs)."""
