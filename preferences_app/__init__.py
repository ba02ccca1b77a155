"""Each user's channel preferences, quiet hours, timezone and contact points (email, phone, devices)."""
