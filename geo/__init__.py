"""Geocoding of Brazilian addresses: pure, imports nothing of ours.

`build(...)` makes the chain the settings describe; `Geocoder.locate(Query)` answers an
`Outcome` (a `Match` with its precision and provider, or none) and never raises for a
provider that is slow, down or rate-limiting.
"""

from geo.address import UFS, cep_digits, format_cep, geocode_key, key, normalize_street
from geo.chain import Geocoder, build, haversine_m
from geo.types import Attempt, Match, Outcome, Precision, Query, Unavailable, in_brazil

__all__ = [
    "UFS",
    "Attempt",
    "Geocoder",
    "Match",
    "Outcome",
    "Precision",
    "Query",
    "Unavailable",
    "build",
    "cep_digits",
    "format_cep",
    "geocode_key",
    "haversine_m",
    "in_brazil",
    "key",
    "normalize_street",
]
