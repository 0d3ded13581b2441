"""Configuration of the application."""
