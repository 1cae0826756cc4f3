"""The operational database: profiles, consents, segments, journeys, messages, users."""
