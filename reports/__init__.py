"""Session reports (packages, routes and payroll) rendered as CSV, XLSX or PDF.

Pure: a SessionReport in, bytes out; imports nothing of ours. Texts people read are in
Brazilian Portuguese, times shown in America/Sao_Paulo, money exact (Decimal end to end).

    from reports import render, content_type, extension
    data = render(report, "PDF")
"""

from reports.model import PackageLine, PayLine, RouteLine, RouteStopLine, SessionReport
from reports.render import FORMATS, content_type, escape_cell, extension, render

__all__ = [
    "FORMATS",
    "PackageLine",
    "PayLine",
    "RouteLine",
    "RouteStopLine",
    "SessionReport",
    "content_type",
    "escape_cell",
    "extension",
    "render",
]
