"""Media engines: what reads uploaded bytes before they are stored."""
