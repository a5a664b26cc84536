"""Notifications: confirmation, reminders and notices by email or SMS."""
