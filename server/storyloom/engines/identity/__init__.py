"""Verifying identity providers' ID tokens (JWTs) with joserfc, against keys fetched from their JWKS URLs."""
