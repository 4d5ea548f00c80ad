"""Full CBF (imgCIF) files: geometry from the axis tables (``_axis``, ``_diffrn_scan_frame_axis``).

Single-panel detectors; goniometers with any number of rotation axes (the scan axis is the
one with a non-zero ``angle_increment``).  Byte-offset compressed pixels.
"""
from __future__ import annotations

import gemmi
import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.attenuation import attenuation_coefficient
from friedel.formats.base import Format, image_number_from_path
from friedel.formats.minicbf import _epoch
from friedel.formats.cbf import (BINARY_START, decode_binary_sections, parse_pilatus_header, read_cbf_bytes,
                                 read_head)
from friedel.models import Beam, Detector, Goniometer, Panel, Scan
from friedel.models.geometry import axis_angle_matrix


def _num(value, default=0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _text(path) -> str:
    head = read_head(path, 1 << 17)
    end = head.find(b"--CIF-BINARY-FORMAT-SECTION--")
    text = head[: end if end >= 0 else len(head)].decode("latin-1")
    # drop the unterminated "_array_data.data ;" text field that opens the binary section
    cut = text.rfind("_array_data.data")
    return text[:cut] if cut >= 0 else text


class FullCBF(Format):
    """imgCIF/CBF with axis tables (e.g. DLS beamlines, LCLS Rayonix stills)."""

    name = "fullcbf"
    priority = 20

    @classmethod
    def understand(cls, path) -> bool:
        head = read_head(path, 1 << 16)
        if not head.startswith(b"###CBF"):
            return False
        end = head.find(BINARY_START)
        head = head[: end if end >= 0 else len(head)]
        return b"_axis.id" in head and b"_array_structure_list" in head

    def _read_header(self) -> None:
        try:
            block = gemmi.cif.read_string(_text(self.path)).sole_block()
        except Exception as exc:
            raise FileFormatError(f"{self.path}: unreadable CIF header ({exc})") from None
        self.block = block
        pilatus = parse_pilatus_header(block.find_value("_array_data.header_contents") or "")
        self.pilatus = pilatus
        axes = {}
        for row in block.find("_axis.", ["id", "type", "equipment", "depends_on", "vector[1]", "vector[2]",
                                          "vector[3]", "?offset[1]", "?offset[2]", "?offset[3]"]):
            offset = [(_num(row[i]) if row.has(i) else 0.0) for i in (7, 8, 9)]
            axes[row[0]] = dict(type=row[1], equipment=row[2], depends_on=row[3],
                                vector=np.array([_num(row[i]) for i in (4, 5, 6)]), offset=np.array(offset))
        if not axes:
            raise FileFormatError(f"{self.path}: CBF has no _axis table")
        # settings of every axis for this frame
        setting = {k: (0.0, 0.0) for k in axes}
        for row in block.find("_diffrn_scan_axis.", ["axis_id", "angle_start", "displacement_start"]):
            setting[row[0]] = (_num(row[1]), _num(row[2]))
        for row in block.find("_diffrn_scan_frame_axis.", ["axis_id", "angle", "displacement"]):
            setting[row[0]] = (_num(row[1]), _num(row[2]))
        increment = {}
        for row in block.find("_diffrn_scan_axis.", ["axis_id", "angle_increment"]):
            increment[row[0]] = _num(row[1])

        def chain(axis_id):
            out = []
            while axis_id not in (".", "?", "", None):
                if axis_id not in axes:
                    raise FileFormatError(f"{self.path}: axis {axis_id} is used but not defined")
                out.append(axis_id)
                axis_id = axes[axis_id]["depends_on"]
            return out

        def transform(axis_ids, point, direction=None):
            """Apply axes (innermost first) to a point; also rotate a direction if given."""
            for a in axis_ids:
                ax = axes[a]
                angle, disp = setting.get(a, (0.0, 0.0))
                if ax["type"] == "rotation":
                    R = axis_angle_matrix(ax["vector"], np.radians(angle))
                    point = R @ point
                    if direction is not None:
                        direction = R @ direction
                    point = point + ax["offset"]
                else:
                    point = point + ax["offset"] + disp * ax["vector"]
            return point, direction

        # detector: the array's fast (precedence 1) and slow axes
        dims = {}
        for row in block.find("_array_structure_list.", ["index", "dimension", "precedence", "axis_set_id"]):
            dims[int(row[2])] = (int(row[1]), row[3])
        if 1 not in dims or 2 not in dims:
            raise FileFormatError(f"{self.path}: CBF lacks a two-dimensional _array_structure_list")
        pixel = {}
        for row in block.find("_array_structure_list_axis.", ["axis_set_id", "axis_id", "displacement",
                                                              "displacement_increment"]):
            pixel[row[0]] = (row[1], _num(row[2]), _num(row[3]))
        (n_fast, fast_set), (n_slow, slow_set) = dims[1], dims[2]
        fast_id, fast_disp, fast_step = pixel[fast_set]
        slow_id, slow_disp, slow_step = pixel[slow_set]
        setting[fast_id] = (0.0, fast_disp)
        setting[slow_id] = (0.0, slow_disp)
        origin, _ = transform(chain(fast_id), np.zeros(3))
        _, fast_dir = transform(chain(fast_id)[1:], np.zeros(3), axes[fast_id]["vector"])
        _, slow_dir = transform(chain(slow_id)[1:], np.zeros(3), axes[slow_id]["vector"])

        wavelength = _num(block.find_value("_diffrn_radiation_wavelength.wavelength"))
        if wavelength <= 0:
            raise FileFormatError(f"{self.path}: CBF has no wavelength")
        source = next((k for k, a in axes.items() if a["equipment"] == "source"), None)
        direction = axes[source]["vector"] if source else np.array([0.0, 0.0, 1.0])
        self.beam = Beam(direction=direction, wavelength=wavelength, polarization_fraction=0.999)

        overload = _num(block.find_value("_array_intensities.overload"), 1e6)
        undefined = _num(block.find_value("_array_intensities.undefined_value"), -1.0)
        if "count_cutoff" in pilatus:
            overload = float(pilatus["count_cutoff"])
        thickness = pilatus.get("thickness_mm", 0.0)
        material = "Si" if thickness > 0 else ""
        from friedel.formats.base import module_gap_rectangles

        panel = Panel(
            fast_axis=fast_dir, slow_axis=slow_dir, origin=origin, pixel_size=(fast_step, slow_step),
            image_size=(n_fast, n_slow), trusted_range=(undefined, overload), thickness=thickness,
            material=material, mu=attenuation_coefficient(material, wavelength),
            identifier=pilatus.get("detector", ""),  # the whole "Detector:" text, as DIALS keeps it
            mask=module_gap_rectangles((n_fast, n_slow)) if pilatus else (),
        )
        self.image_size = (n_fast, n_slow)
        self.detector = Detector([panel])

        # goniometer: rotation axes on the goniometer, innermost first
        gonio = [k for k, a in axes.items() if a["equipment"] == "goniometer" and a["type"] == "rotation"]
        number = image_number_from_path(self.path) or 1
        exposure = _num(block.find_value("_diffrn_scan_frame.integration_time"))
        epoch = _epoch(block.find_value("_diffrn_scan_frame.date") or pilatus.get("timestamp"))
        if not gonio:
            self.goniometer = None
            self.scan = Scan((number, number), (0.0, 0.0), exposure_times=[exposure], epochs=[epoch])
            return
        leaves = [k for k in gonio if not any(axes[o]["depends_on"] == k for o in gonio)]
        ordered = [a for a in chain(leaves[0]) if a in gonio]
        scan_axis = next((i for i, a in enumerate(ordered) if increment.get(a, 0.0) != 0.0), len(ordered) - 1)
        angles = [setting[a][0] for a in ordered]
        if len(ordered) == 1:
            self.goniometer = Goniometer(rotation_axis=axes[ordered[0]]["vector"])
        else:
            self.goniometer = Goniometer(axes=[axes[a]["vector"] for a in ordered], angles=angles,
                                         names=ordered, scan_axis=scan_axis)
        width = increment.get(ordered[scan_axis], 0.0)
        self.scan = Scan((number, number), (angles[scan_axis], width), exposure_times=[exposure], epochs=[epoch])

    def detector_id(self) -> str:
        return self.pilatus.get("detector") or self.block.find_value("_diffrn_detector.type") or self.name

    def get_raw_data(self, index: int = 0):
        if index != 0:
            raise FileFormatError(f"{self.path}: holds one image, asked for image {index + 1}")
        data = decode_binary_sections(read_cbf_bytes(self.path), self.path)[0].data
        if data.shape != (self.image_size[1], self.image_size[0]):
            raise FileFormatError(f"{self.path}: image is {data.shape}, header says {self.image_size[::-1]}")
        return (data,)
