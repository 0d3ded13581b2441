"""Agent orchestration."""
