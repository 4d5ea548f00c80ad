# The entry-point module: friedel calls these hooks; each plugin's module is imported when first needed.
from friedel.hookspecs import LazyPlugin, hookimpl


@hookimpl
def friedel_formats():
    return [LazyPlugin("xfd", "friedel_example_facility.xfd:FormatXFD")]


@hookimpl
def friedel_spotfinder_thresholds():
    return [LazyPlugin("robust_global", "friedel_example_facility.spots:RobustGlobalThreshold")]


@hookimpl
def friedel_spotfinder_filters():
    return [LazyPlugin("min_counts", "friedel_example_facility.spots:MinCounts")]


@hookimpl
def friedel_indexing_methods():
    return [LazyPlugin("difference_vectors", "friedel_example_facility.indexing:DifferenceVectors")]
