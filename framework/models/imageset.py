"""Where the pixels of an experiment come from: a file template with an image range, or a file list."""

from __future__ import annotations

import os
import re

_KNOWN = ("__id__", "template", "images", "mask", "gain", "pedestal", "dx", "dy", "params", "single_file_indices")


def template_to_regex(template: str) -> tuple[str, int]:
    """Split a template like ``data_#####.cbf`` into a format string and digit count."""
    match = re.search(r"#+", os.path.basename(template))
    if not match:
        raise ValueError(f"template {template!r} has no '#' run for the image number")
    width = match.end() - match.start()
    return template.replace("#" * width, "{:0%dd}" % width, 1), width


class ImageSetReference:
    """A reference to image files, as stored in ``.expt`` (no pixels are read here).

    Sequences (rotation sweeps) have a ``template`` such as ``th_8_2_####.cbf`` and take
    their image range from the scan; still sets list their ``images`` explicitly. Files
    holding many images (HDF5) use ``single_file_indices`` to name the frames.
    """

    def __init__(
        self,
        template: str | None = None,
        images: list[str] | None = None,
        mask: str | None = None,
        gain: str | None = None,
        pedestal: str | None = None,
        dx: str | None = None,
        dy: str | None = None,
        params: dict | None = None,
        kind: str | None = None,
        single_file_indices: list[int] | None = None,
        extra: dict | None = None,
    ):
        if (template is None) == (images is None):
            raise ValueError("an image set needs exactly one of template or images")
        self.template = template
        self.images = list(images) if images is not None else None
        self.mask = mask
        self.gain = gain
        self.pedestal = pedestal
        self.dx = dx
        self.dy = dy
        self.params = dict(params or {})
        self.kind = kind or ("ImageSequence" if template is not None else "ImageSet")
        self.single_file_indices = single_file_indices
        self.extra = dict(extra or {})

    @property
    def is_sequence(self) -> bool:
        return self.template is not None

    def paths(self, image_range: tuple[int, int] | None = None) -> list[str]:
        """File paths of the images: one per image number for a template, else the list."""
        if self.template is None:
            return list(self.images)
        if "#" not in self.template:  # one container file (e.g. an HDF5 master) for all images
            first, last = image_range or (1, 1)
            return [self.template] * (last - first + 1)
        fmt, _ = template_to_regex(self.template)
        first, last = image_range or (1, 1)
        return [fmt.format(i) for i in range(first, last + 1)]

    def resolve_relative_to(self, directory: str) -> None:
        """Make relative file names absolute against ``directory`` (the .expt file's folder)."""

        def fix(path):
            if path and not os.path.isabs(path):
                return os.path.normpath(os.path.join(directory, path))
            return path

        if self.template is not None:
            self.template = fix(self.template)
        else:
            self.images = [fix(p) for p in self.images]
        self.mask = fix(self.mask)

    @classmethod
    def from_dict(cls, d: dict) -> "ImageSetReference":
        return cls(
            template=d.get("template"),
            images=d.get("images"),
            mask=d.get("mask"),
            gain=d.get("gain"),
            pedestal=d.get("pedestal"),
            dx=d.get("dx"),
            dy=d.get("dy"),
            params=d.get("params"),
            kind=d.get("__id__"),
            single_file_indices=d.get("single_file_indices"),
            extra={k: v for k, v in d.items() if k not in _KNOWN},
        )

    def to_dict(self) -> dict:
        d = {"__id__": self.kind}
        if self.template is not None:
            d["template"] = self.template
        else:
            d["images"] = list(self.images)
        d.update(
            {"mask": self.mask, "gain": self.gain, "pedestal": self.pedestal, "dx": self.dx, "dy": self.dy,
             "params": self.params}
        )
        if self.single_file_indices is not None:
            d["single_file_indices"] = list(self.single_file_indices)
        d.update(self.extra)
        return d

    def __repr__(self) -> str:
        what = self.template if self.template is not None else f"{len(self.images)} image file(s)"
        return f"ImageSetReference({self.kind}: {what})"
