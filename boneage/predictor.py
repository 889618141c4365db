"""From an uploaded file to a bone age: validation, decoding, preprocessing, model, meaning."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from boneage.chain.preprocess import Chain, PreprocessConfig, PreprocessResult, preprocess
from boneage.chain.views import affine
from boneage.errors import UnreadableUploadError
from boneage.io.decode import ImageSource, Radiograph, load_radiograph
from boneage.io.inputs import HeightInputs, Sex, parse_age_months, parse_sex
from boneage.meaning.adult_height import HeightAssessment, assess_height, check_heights
from boneage.meaning.chart import chart_data
from boneage.meaning.interval import IntervalCalibration
from boneage.meaning.quality import GOOD, QualityCurves, QualityVerdict
from boneage.meaning.reference import Interpretation, interpret_gap
from boneage.model.architectures import BoneAgeRegressor, describe_architecture
from boneage.model.folding import fold_batch_norms
from boneage.model.heatmap import grad_cam
from boneage.model.inputs import to_model_input
from boneage.model.loading import load_model
from boneage.model.onnx_runtime import ServedForward, chain_signature, regressor_signature
from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest, ResolvedWeights, resolve_weights
from boneage.words import explain_gap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    architecture: str
    source: str  # explicit | hub | local
    validation_mae_months: float | None
    trained_on: str
    validation_n: int | None = None  # radiographs behind validation_mae_months, never trained on
    training_n: int | None = None  # radiographs the model learnt from

    @classmethod
    def from_manifest(cls, manifest: Manifest, source: str) -> ModelInfo:
        return cls(
            name=manifest.name,
            version=manifest.version,
            architecture=describe_architecture(
                manifest.architecture, manifest.architecture_kwargs, manifest.input_size
            ),
            source=source,
            validation_mae_months=manifest.validation_mae,
            trained_on=str(manifest.training.get("dataset", "unknown")),
            validation_n=_count(manifest.metrics.get("val_n")),
            training_n=_count(manifest.training.get("n_train")),
        )

    @property
    def learnt_from_rsna(self) -> bool:
        return "rsna" in self.trained_on.lower()


def _count(value) -> int | None:
    return int(value) if value is not None else None


@dataclass(frozen=True)
class Analysis:
    """Everything the UI and the API report for one radiograph."""

    sex: Sex
    chronological_age_months: float
    radiograph: Radiograph
    preprocessed: PreprocessResult
    bone_age_months: float | None = None
    gap_months: float | None = None
    interpretation: Interpretation | None = None
    model: ModelInfo | None = None
    timing_ms: dict[str, float] = field(default_factory=dict)  # decode, preprocess, model
    interval: IntervalCalibration | None = None  # how the bone age's interval was calibrated
    heatmap: np.ndarray | None = None  # Grad-CAM over model_input, [0, 1]
    model_image: np.ndarray | None = None  # the served view, when it is not preprocessed.image
    lang: str = "en"  # the language of the words in to_dict() (the interpretation's sentence)
    quality: QualityVerdict = GOOD  # answered as it is, or with a caution and a wider interval
    height: HeightAssessment | None = None  # only when a height was given

    @property
    def model_input(self) -> np.ndarray:
        """The image the model read: the served view of the chain's output (shown to the user)."""
        return self.preprocessed.image if self.model_image is None else self.model_image

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The bone age's interval in months, when a calibration is installed."""
        if self.interval is None or self.bone_age_months is None:
            return None
        return widened(self.interval.interval(self.bone_age_months), self.quality.shift_p90_months)

    def interval_dict(self) -> dict | None:
        if self.bounds is None or self.interval is None:
            return None
        coverage = self.interval.coverage
        return {
            "level": self.interval.level,
            "low_months": round(self.bounds[0], 1),
            "high_months": round(self.bounds[1], 1),
            "measured_coverage": coverage.get("coverage"),
            "measured_on_n": coverage.get("n"),
            "method": self.interval.method,
        }

    def _interpretation_dict(self) -> dict | None:
        if self.interpretation is None:
            return None
        return {**self.interpretation.to_dict(), "sentence": explain_gap(self.interpretation, self.lang)}

    def to_dict(self) -> dict:
        """JSON-safe summary (no pixel arrays)."""
        return {
            "bone_age_months": _round(self.bone_age_months),
            "chronological_age_months": _round(self.chronological_age_months),
            "gap_months": _round(self.gap_months),
            "sex": self.sex,
            "interval": self.interval_dict(),
            "interpretation": self._interpretation_dict(),
            "chart": (
                chart_data(self.sex, self.chronological_age_months, self.bone_age_months, self.bounds)
                if self.bone_age_months is not None
                else None
            ),
            "expected_error_months": self.model.validation_mae_months if self.model else None,
            "model": asdict(self.model) if self.model else None,
            "image": {
                "format": self.radiograph.source_format,
                "bit_depth": self.radiograph.bit_depth,
                "height": self.radiograph.shape[0],
                "width": self.radiograph.shape[1],
                "hand_fraction": round(self.preprocessed.hand_fraction, 3),
                "crop_box": list(self.preprocessed.crop_box),
                "inverted": self.preprocessed.inverted,
                "mirrored": self.preprocessed.orientation.mirrored,
                "rotated_degrees": self.preprocessed.orientation.rotated_degrees,
                "segmenter": self.preprocessed.segmenter,
            },
            "timing_ms": {step: round(ms, 1) for step, ms in self.timing_ms.items()},
            "quality": self._quality_dict(),
            "height": self.height.to_dict() if self.height else None,
        }

    def _quality_dict(self) -> dict:
        measured = self.preprocessed.quality.to_dict() if self.preprocessed.quality else {}
        return {**self.quality.to_dict(), **measured}


def with_file_quality(processed: PreprocessResult, jpeg_quality: int | None) -> PreprocessResult:
    """The chain's measurements of the pixels, and what the file says of its own compression."""
    if jpeg_quality is None or processed.quality is None:
        return processed
    return replace(processed, quality=processed.quality.with_file(int(jpeg_quality)))


def widened(bounds: tuple[float, float], shift_months: float) -> tuple[float, float]:
    """The interval with a further, independent error of ``shift_months`` (its 90th percentile)
    added to its half-width in quadrature, within the bone ages that exist."""
    half = (bounds[1] - bounds[0]) / 2
    extra = math.hypot(half, shift_months) - half
    return max(0.0, bounds[0] - extra), min(240.0, bounds[1] + extra)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


class Predictor:
    """A loaded model with its manifest; load once, call many times (thread-safe for inference)."""

    def __init__(
        self,
        model: BoneAgeRegressor,
        manifest: Manifest,
        source: str = "explicit",
        weights: ResolvedWeights | None = None,
        chain: Chain | None = None,
    ):
        # A copy with the batch norms folded into the convolutions (the caller's model is left as
        # it is, e.g. for train.py to save); channels-last is faster on the CPU, with the same numbers.
        self.model = fold_batch_norms(model, manifest.input_size).to(memory_format=torch.channels_last)
        self._forward = ServedForward(self._pytorch_forward, "the bone-age model")  # see use_onnx_runtime()
        self.manifest = manifest
        self.weights = weights  # what the model was loaded from: a child process exports it
        self.info = ModelInfo.from_manifest(manifest, source)
        self._grad_lock = threading.Lock()
        # The chain this model learnt through, with its own networks (loaded here unless given).
        self.chain = chain or Chain.load(PreprocessConfig.from_dict(manifest.preprocess))
        self.interval = IntervalCalibration.from_dict(manifest.interval) if manifest.interval else None
        self.quality_curves = QualityCurves.from_dict(manifest.quality) if manifest.quality else None

    @classmethod
    def load(
        cls,
        explicit: str | os.PathLike | None = None,
        weights_dir: str | os.PathLike = DEFAULT_WEIGHTS_DIR,
    ) -> Predictor:
        return cls.from_resolved(resolve_weights(explicit, weights_dir))

    @classmethod
    def from_resolved(cls, resolved: ResolvedWeights, chain: Chain | None = None) -> Predictor:
        """The model in weights already verified; its chain is loaded from its manifest unless given."""
        return cls(load_model(resolved), resolved.manifest, resolved.source, resolved, chain)

    @torch.inference_mode()
    def predict_months(self, images: list[np.ndarray], male: list[bool]) -> np.ndarray:
        """Bone age in months for already-preprocessed images (averaged over the manifest's TTA views)."""
        views = [dict(v) for v in self.manifest.tta] or [{}]
        batch = [affine(image, **view) if view else image for image in images for view in views]
        inputs = to_model_input(batch)
        sex = torch.tensor([1.0 if m else 0.0 for m in male for _ in views])
        months = self._forward(inputs, sex).reshape(len(images), len(views)).mean(dim=1)
        return months.clamp(0.0, 240.0).cpu().numpy()

    def _pytorch_forward(self, inputs: torch.Tensor, sex: torch.Tensor) -> torch.Tensor:
        # Channels-last only here: ONNX Runtime reads the contiguous layout as it comes.
        return self.model(inputs.to(memory_format=torch.channels_last), sex)

    @property
    def preprocess_config(self) -> PreprocessConfig:
        return self.chain.config

    @property
    def runtime(self) -> str:
        """What answers the bone age: "pytorch <version>" or "onnxruntime <version>"."""
        return self._forward.runtime

    def use_onnx_runtime(self, threads: int = 0) -> bool:
        """Answer with ONNX Runtime from now on (faster on the CPU, the same numbers).

        Exports the served network (in a child process when it was loaded from verified
        weights) and checks it against PyTorch first; then the chain's own networks (the hand
        U-Net and the wrist check, which this predictor's chain owns) the same way. Returns False,
        and keeps PyTorch for the bone-age model, when the packages are missing or its export or
        check fails; each chain network keeps PyTorch on its own failure. Calls in flight finish
        on PyTorch: each switch is one assignment.
        """
        switched = self._forward.use_onnx_runtime(
            self.model, regressor_signature(self.manifest.input_size), threads, self.weights
        )
        runtimes = {self._forward.what: self.runtime, **_chain_uses_onnx_runtime(self.chain, threads)}
        log.info("Serving with %s.", ", ".join(f"{runtime} ({what})" for what, runtime in runtimes.items()))
        return switched

    def estimate(
        self, pixels: np.ndarray, male: bool, jpeg_quality: int | None = None
    ) -> tuple[float, QualityVerdict]:
        """Bone age in months for decoded pixels, and the upload's quality verdict (as the app
        judges it: an unreadable upload raises :class:`UnreadableUploadError`). ``jpeg_quality``:
        the file's, when it was a JPEG (``Radiograph.metadata``)."""
        processed = preprocess(pixels, self.chain)
        verdict = self.judge_quality(with_file_quality(processed, jpeg_quality))
        return float(self.predict_months([processed.image], [male])[0]), verdict

    def predict_pixels(self, pixels: np.ndarray, male: bool) -> float:
        """Bone age in months for decoded pixels: the chain (with its source transform), then the model.

        Not judged for quality (see :meth:`estimate`): this measures the model, as evaluate does.
        """
        processed = preprocess(pixels, self.chain)
        return float(self.predict_months([processed.image], [male])[0])

    def analyse(
        self,
        source: ImageSource | Radiograph,
        sex: object,
        age_months: object,
        lang: str = "en",
        heatmap: bool = False,
        heights: HeightInputs | None = None,
    ) -> Analysis:
        return analyse(source, sex, age_months, predictor=self, lang=lang, heatmap=heatmap, heights=heights)

    def judge_quality(self, processed: PreprocessResult) -> QualityVerdict:
        """Answer, caution or refuse, from this model's measured curves (none measured: answer).

        Raises:
            UnreadableUploadError: the upload reads farther from a clean film than the model's
                own error; its code says why (too noisy, too compressed, too small).
        """
        if self.quality_curves is None or processed.quality is None:
            return GOOD
        verdict = self.quality_curves.judge(processed.quality, second_look=processed.second_look)
        if verdict.outcome == "refuse":
            code = {"noise": "too_noisy", "compression": "too_compressed", "size": "too_small"}[verdict.kind]
            raise UnreadableUploadError(code, extra_error_months=round(verdict.extra_error_months))
        return verdict

    def served_view(self, image: np.ndarray) -> np.ndarray:
        """A processed image as the model reads it: the manifest's view when it lists one.

        With several views the answer is their mean, which no single image shows, so the
        chain's image itself stands for them (every multi-view set includes it as is).
        """
        views = self.manifest.tta
        return affine(image, **views[0]) if len(views) == 1 and views[0] else image

    def heatmap(self, image: np.ndarray, male: bool) -> np.ndarray:
        """Grad-CAM of the bone age over one image as the model reads it (``served_view``)."""
        with self._grad_lock:  # hooks are per model: one heatmap at a time
            return grad_cam(self.model, image, male)


def _chain_uses_onnx_runtime(chain: Chain, threads: int) -> dict[str, str]:
    """The chain's networks answer with ONNX Runtime, each exported and checked on its own.

    Returns what answers for each: {"the wrist check": "onnxruntime 1.32.0", ...}.
    """
    runtimes = {}
    for network in chain.networks.values():
        forward = ServedForward(network.model, f"the {network.what}")
        forward.use_onnx_runtime(network.model, chain_signature(network), threads, network.weights)
        network.serve_with(forward)
        runtimes[forward.what] = forward.runtime
    return runtimes


class BackgroundPredictor:
    """Builds the model in a thread, so a server can answer while timm imports.

    The weights are resolved and verified before this is made, so what it will load is known
    at once (``info``); ``get`` waits for the model and re-raises a failure to build it. With
    ``onnx_runtime`` the same thread then moves the forward passes to ONNX Runtime, the model's
    first, then the chain's U-Net and wrist check; until each is
    ready, it answers with PyTorch.
    """

    def __init__(self, resolved: ResolvedWeights, onnx_runtime: bool = False):
        self.info = ModelInfo.from_manifest(resolved.manifest, resolved.source)
        self._resolved = resolved
        self._onnx_runtime = onnx_runtime
        self._predictor: Predictor | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self.runtime_settled = threading.Event()  # set once the forward pass will not change again
        threading.Thread(target=self._load, name="load-model", daemon=True).start()

    def _load(self) -> None:
        try:
            self._predictor = Predictor.from_resolved(self._resolved)
        except BaseException as exc:  # handed to every caller of get()
            self._error = exc
        finally:
            self._ready.set()
        try:
            if self._onnx_runtime and self._predictor is not None:
                self._predictor.use_onnx_runtime()  # answers go on with PyTorch meanwhile
        finally:
            self.runtime_settled.set()

    def get(self, timeout: float | None = 120.0) -> Predictor:
        if not self._ready.wait(timeout):
            raise TimeoutError("The model is still loading.")
        if self._error is not None:
            raise self._error
        assert self._predictor is not None
        return self._predictor


def analyse(
    source: ImageSource | Radiograph,
    sex: object,
    age_months: object,
    predictor: Predictor | None = None,
    chain: Chain | None = None,
    lang: str = "en",
    heatmap: bool = False,
    heights: HeightInputs | None = None,
) -> Analysis:
    """Validate inputs, decode, preprocess and (when a model is installed) predict.

    ``heights`` (optional) adds the height part: checked with the other inputs, before any
    model runs, and assessed once there is a bone age (boneage.meaning.adult_height).

    Without a predictor the analysis stops after preprocessing (through ``chain``, by default
    the classical one): the caller can still show the image the model would see, and says
    plainly that no model is installed.
    """
    child_sex = parse_sex(sex)
    age = parse_age_months(age_months)
    heights = heights or HeightInputs()
    check_heights(heights, age, child_sex)
    clock = _Clock()
    radiograph = source if isinstance(source, Radiograph) else load_radiograph(_as_source(source))
    clock.lap("decode")
    chain = predictor.chain if predictor else (chain or Chain.classical())
    processed = with_file_quality(
        preprocess(radiograph.pixels, chain), radiograph.metadata.get("jpeg_quality")
    )
    clock.lap("preprocess")
    if predictor is None:
        return Analysis(child_sex, age, radiograph, processed, timing_ms=clock.laps)
    verdict = predictor.judge_quality(processed)
    bone_age = float(predictor.predict_months([processed.image], [child_sex == "male"])[0])
    clock.lap("model")
    gap = bone_age - age
    bounds = (
        widened(predictor.interval.interval(bone_age), verdict.shift_p90_months)
        if predictor.interval
        else None
    )
    level = predictor.interval.level if predictor.interval else 0.9
    meaning = interpret_gap(gap, age, child_sex, predictor.info.validation_mae_months, bounds, level)
    height = assess_height(heights, child_sex, age, bone_age, bounds, level)
    seen = predictor.served_view(processed.image)
    heat = None
    if heatmap:
        heat = predictor.heatmap(seen, child_sex == "male")
        clock.lap("heatmap")
    return Analysis(
        child_sex, age, radiograph, processed, bone_age, gap, meaning, predictor.info,
        timing_ms=clock.laps, interval=predictor.interval, heatmap=heat,
        model_image=None if seen is processed.image else seen, lang=lang, quality=verdict, height=height,
    )  # fmt: skip


class _Clock:
    """Wall time per step, so the API and the benchmarks can say where a request's time went."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = 1000 * (now - self._last)
        self._last = now


def _as_source(source: ImageSource) -> ImageSource:
    return Path(source) if isinstance(source, str) else source
