"""Identity resolution: one profile per person from every identifier they leave."""
