"""Cases: the JSON API (and later the portal pages) for cases, answers and images."""
