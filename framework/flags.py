"""Reflection flag bits, with the values DIALS uses so .refl files interoperate."""

from enum import IntFlag


class Flags(IntFlag):
    predicted = 1 << 0
    observed = 1 << 1
    indexed = 1 << 2
    used_in_refinement = 1 << 3
    strong = 1 << 5
    reference_spot = 1 << 6
    dont_integrate = 1 << 7
    integrated_sum = 1 << 8
    integrated_prf = 1 << 9
    overloaded = 1 << 10
    overlapped_bg = 1 << 11
    overlapped_fg = 1 << 12
    in_powder_ring = 1 << 13
    foreground_includes_bad_pixels = 1 << 14
    background_includes_bad_pixels = 1 << 15
    used_in_modelling = 1 << 16
    centroid_outlier = 1 << 17
    failed_during_background_modelling = 1 << 18
    failed_during_summation = 1 << 19
    failed_during_profile_fitting = 1 << 20
    bad_reference = 1 << 21
    user_excluded_in_scaling = 1 << 22
    outlier_in_scaling = 1 << 23
    excluded_for_scaling = 1 << 24
    excluded_for_refinement = 1 << 25
    scaled = 1 << 26
    # combinations DIALS also names
    integrated = integrated_sum | integrated_prf
    includes_bad_pixels = foreground_includes_bad_pixels | background_includes_bad_pixels
    bad_spot = overloaded | overlapped_bg | overlapped_fg | in_powder_ring | includes_bad_pixels
    bad_for_scaling = user_excluded_in_scaling | outlier_in_scaling | excluded_for_scaling
    bad_for_refinement = centroid_outlier | excluded_for_refinement


class MaskCode(IntFlag):
    """Per-pixel shoebox mask bits (DIALS values)."""

    valid = 1 << 0
    background = 1 << 1
    foreground = 1 << 2
    strong = 1 << 3
    background_used = 1 << 4
    overlapped = 1 << 5
