"""Distances on the Earth's surface, computed by the database so results can be sorted and paged there.

A radius search first narrows to a latitude/longitude box that the
`(status, latitude, longitude)` index can range-scan, then keeps the rows whose
great-circle distance is within the radius. MariaDB has `ST_Distance_Sphere`;
SQLite gets the same haversine as a function registered on each connection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

# Mean radius, the one ST_Distance_Sphere uses by default, so both backends agree to the metre.
EARTH_RADIUS_KM = 6370.986
KM_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_KM / 180


@dataclass(frozen=True)
class Box:
    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float


def bounding_box(lat: float, lng: float, radius_km: float) -> Box:
    """The smallest latitude/longitude box holding every point within `radius_km` of (lat, lng)."""
    dlat = radius_km / KM_PER_DEGREE_LATITUDE
    # Longitude degrees shrink towards the poles; near them, the box spans every longitude.
    cos_lat = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
    dlng = min(180.0, radius_km / (KM_PER_DEGREE_LATITUDE * cos_lat))
    return Box(lat - dlat, lat + dlat, lng - dlng, lng + dlng)


def haversine_km(lat1: float | None, lng1: float | None, lat2: float | None, lng2: float | None) -> float | None:
    if lat1 is None or lng1 is None or lat2 is None or lng2 is None:
        return None
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class distance_km(GenericFunction[float]):  # noqa: N801 - SQL function names are lowercase
    """`distance_km(lat1, lng1, lat2, lng2)` in SQL, on either backend."""

    type = Float()
    inherit_cache = True


@compiles(distance_km, "mysql")
def _mysql_distance(element: distance_km, compiler: Any, **kw: Any) -> str:
    lat1, lng1, lat2, lng2 = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(ST_Distance_Sphere(POINT({lng1}, {lat1}), POINT({lng2}, {lat2})) / 1000)"


@compiles(distance_km, "sqlite")
def _sqlite_distance(element: distance_km, compiler: Any, **kw: Any) -> str:
    return f"homer_distance_km({compiler.process(element.clause_expr, **kw)[1:-1]})"


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_function("homer_distance_km", 4, haversine_km, deterministic=True)
