"""The customer page: one profile with everything known and predicted about it."""
