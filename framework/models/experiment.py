"""Experiments: one beam, detector, goniometer, scan, crystal and image set, with an identifier."""

from __future__ import annotations

import uuid

from friedel.models.beam import Beam
from friedel.models.crystal import Crystal
from friedel.models.detector import Detector
from friedel.models.goniometer import Goniometer
from friedel.models.imageset import ImageSetReference
from friedel.models.scan import Scan

# (expt-file list key, experiment attribute, model class or None for raw dicts)
MODEL_SLOTS = (
    ("beam", "beam", Beam),
    ("detector", "detector", Detector),
    ("goniometer", "goniometer", Goniometer),
    ("scan", "scan", Scan),
    ("crystal", "crystal", Crystal),
    ("profile", "profile", None),
    ("imageset", "imageset", ImageSetReference),
    ("scaling_model", "scaling_model", None),
)


class Experiment:
    """One lattice seen in one image set. Models may be shared between experiments."""

    def __init__(
        self,
        beam: Beam | None = None,
        detector: Detector | None = None,
        goniometer: Goniometer | None = None,
        scan: Scan | None = None,
        crystal: Crystal | None = None,
        imageset: ImageSetReference | None = None,
        profile: dict | None = None,
        scaling_model: dict | None = None,
        identifier: str = "",
    ):
        self.beam = beam
        self.detector = detector
        self.goniometer = goniometer
        self.scan = scan
        self.crystal = crystal
        self.imageset = imageset
        self.profile = profile
        self.scaling_model = scaling_model
        self.identifier = identifier

    @property
    def is_still(self) -> bool:
        return self.goniometer is None or self.scan is None or self.scan.is_still

    def ensure_identifier(self) -> str:
        if not self.identifier:
            self.identifier = str(uuid.uuid4())
        return self.identifier

    def image_paths(self) -> list[str]:
        image_range = self.scan.image_range if self.scan is not None else None
        return self.imageset.paths(image_range)

    def __repr__(self) -> str:
        parts = [p for p in (self.beam, self.detector, self.goniometer, self.scan, self.crystal) if p is not None]
        return "Experiment(" + ", ".join(repr(p) for p in parts) + ")"


class ExperimentList(list):
    """A list of experiments that knows which models they share."""

    def identifiers(self) -> list[str]:
        return [e.identifier for e in self]

    def unique(self, attribute: str) -> list:
        """Distinct (by identity) non-None models of one kind, in first-use order."""
        seen, out = set(), []
        for e in self:
            m = getattr(e, attribute)
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                out.append(m)
        return out

    @property
    def crystals(self) -> list[Crystal]:
        return self.unique("crystal")

    @property
    def detectors(self) -> list[Detector]:
        return self.unique("detector")

    @property
    def imagesets(self) -> list[ImageSetReference]:
        return self.unique("imageset")

    def to_dict(self) -> dict:
        """The dxtbx ExperimentList dictionary, sharing models by index."""
        out = {"__id__": "ExperimentList", "experiment": []}
        tables = {key: self.unique(attr) for key, attr, _ in MODEL_SLOTS}
        index = {key: {id(m): i for i, m in enumerate(models)} for key, models in tables.items()}
        for e in self:
            entry = {"__id__": "Experiment", "identifier": e.identifier}
            for key, attr, _ in MODEL_SLOTS:
                m = getattr(e, attr)
                if m is not None:
                    entry[key] = index[key][id(m)]
            out["experiment"].append(entry)
        for key, attr, cls in MODEL_SLOTS:
            out[key] = [m.to_dict() if cls is not None else m for m in tables[key]]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentList":
        if d.get("__id__") != "ExperimentList":
            raise ValueError("not an ExperimentList dictionary (missing __id__ = ExperimentList)")
        models = {}
        for key, _, model_cls in MODEL_SLOTS:
            raw = d.get(key, [])
            models[key] = [model_cls.from_dict(m) if model_cls is not None else m for m in raw]
        experiments = cls()
        for entry in d.get("experiment", []):
            kwargs = {}
            for key, attr, _ in MODEL_SLOTS:
                i = entry.get(key)
                if i is not None:
                    kwargs[attr] = models[key][i]
            experiments.append(Experiment(identifier=entry.get("identifier", ""), **kwargs))
        return experiments

    def __repr__(self) -> str:
        return f"ExperimentList({len(self)} experiment(s))"

