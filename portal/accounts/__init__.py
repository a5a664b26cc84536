"""Agents' accounts: invitations, password reset, the second factor, sessions.

Plain-Python domain modules (`policy`, `invitations`, `secondfactor`, `sessions`,
`members`) under thin views (`views`). Design, and how ProConnect can later replace
passwords per structure: docs/accounts.md.
"""
