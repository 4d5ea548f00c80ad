"""The facility's entry-point module: friedel calls these hooks to discover its plugins."""

from friedel.hookspecs import hookimpl

from friedel_example_facility.format_xfd import FormatXFD
from friedel_example_facility.threshold import RobustGlobalThreshold


@hookimpl
def friedel_formats():
    return [FormatXFD]


@hookimpl
def friedel_spotfinder_thresholds():
    return [RobustGlobalThreshold]
