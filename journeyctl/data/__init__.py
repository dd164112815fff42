"""Contacts and events in: encoding detection, typed rows, diagnostics located file:line:col."""
