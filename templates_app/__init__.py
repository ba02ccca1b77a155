"""Notification templates, their numbered versions, and rendering them in a Jinja2 sandbox."""
