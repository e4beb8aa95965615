"""Geocoding and routing from the settings: what the jobs of geocodeSession and
optimizeRoutes are given (a Geocoder for domain.geocoding, a RouteConfig in the runner's
Deps)."""

from __future__ import annotations

import geo
from bipa.settings import Settings
from domain.routes import RouteConfig


def make_geocoder(settings: Settings) -> geo.Geocoder:
    """The fallback chain the settings describe; close it (`aclose`) when done."""
    return geo.build(
        settings.geocoder,
        url=settings.geocoder_url,
        cep_url=settings.cep_url,
        user_agent=settings.geocoder_user_agent,
        timeout_s=settings.geocoder_timeout_s,
        interval_s=settings.geocoder_interval_s,
    )


def route_config(settings: Settings) -> RouteConfig:
    return RouteConfig(
        depot=settings.depot,
        osrm_url=settings.osrm_url,
        detour=settings.route_detour,
        speed_kmh=settings.route_speed_kmh,
        timeout_s=settings.route_timeout_s,
        default_capacity=settings.route_capacity,
        service_s=settings.route_service_s,
        per_parcel_s=settings.route_service_per_parcel_s,
    )
