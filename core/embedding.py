"""The OpenCLIP image embedder: the only module that touches torch and open_clip.

Both are imported inside functions, so browsing, deleting and orphan work (which never
embed) start without loading torch. Weights come from an open_clip pretrained tag, a local
weights file, or — only when asked for by name — seeded random weights for demos and tests.
A failure to load weights is an error naming what was tried: silently embedding with random
weights would fill the collection with meaningless vectors.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from vectorctl.core.errors import ModelUnavailable, StoreMismatch, ValidationError

if TYPE_CHECKING:
    from PIL.Image import Image

    from vectorctl.core.settings import Settings

MODEL_NAME = "OpenCLIP"  # training_evidence.model_name, as the image-search service writes it
RANDOM = "random"
RANDOM_LABEL = "random (not a trained model)"
RANDOM_SEED = 0
WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors", ".npz")
POINT_TO_FILE = (
    "download the weights where there is network access and point to the file with "
    "--clip-pretrained /path/to/weights.bin or VECTORCTL_CLIP_PRETRAINED=/path/to/weights.bin"
)

_load_lock = threading.Lock()  # open_clip's config registry and torch's RNG are global


@dataclass(frozen=True)
class EmbedderConfig:
    """What to load: model architecture, weights source and device, as the operator set them."""

    model: str = "ViT-B-32"
    pretrained: str = "openai"  # an open_clip tag, a path to a weights file, or "random"
    device: str = "auto"  # auto, cpu, cuda

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbedderConfig:
        return cls(settings.clip_model, settings.clip_pretrained, settings.device)

    @property
    def is_random(self) -> bool:
        return self.pretrained.strip().lower() == RANDOM

    @property
    def is_file(self) -> bool:
        text = self.pretrained
        return "/" in text or text.startswith("~") or text.lower().endswith(WEIGHT_SUFFIXES)

    @property
    def weights_label(self) -> str:
        """How the weights are described to operators and in every evidence row."""
        if self.is_random:
            return RANDOM_LABEL
        if self.is_file:
            return f"file {Path(self.pretrained).expanduser()}"
        return self.pretrained

    @property
    def model_version(self) -> str:
        """`training_evidence.model_version`: architecture/weights, e.g. `ViT-B-32/openai`."""
        if self.is_random:
            weights = RANDOM
        elif self.is_file:
            weights = Path(self.pretrained).name
        else:
            weights = self.pretrained
        return f"{self.model}/{weights}"[:100]

    def describe(self) -> str:
        return f"model {self.model!r} with weights {self.weights_label!r}"


class Embedder:
    """A loaded OpenCLIP image tower. `prepare` is thread-safe (decode threads call it);
    `embed_prepared` runs the model and should be called from one thread at a time."""

    def __init__(self, config: EmbedderConfig, model: Any, preprocess: Any, device: str):
        self.config = config
        self.device = device
        self._model = model
        self.dim = int(model.visual.output_dim)
        size = model.visual.image_size
        self.image_size = int(max(size) if isinstance(size, tuple | list) else size)
        # open_clip's preprocessing is PIL work (resize, crop, RGB) then tensor work (to
        # tensor, normalise). Decode threads do only the PIL part, so they never start torch
        # threads that would fight the model's for the cores; the tensor part runs batched.
        steps = list(preprocess.transforms)
        split = next(i for i, t in enumerate(steps) if "ToTensor" in type(t).__name__)
        self._pil_steps, self._tensor_steps = steps[:split], steps[split + 1 :]

    @property
    def model(self) -> Any:
        """The open_clip model itself (benchmarks time its bare `encode_image`)."""
        return self._model

    @property
    def weights_label(self) -> str:
        return self.config.weights_label

    @property
    def model_version(self) -> str:
        return self.config.model_version

    def prepare(self, image: Image) -> np.ndarray:
        """Decode-side work for one image: resize, crop, RGB -> HxWx3 uint8 array.

        A JPEG not yet decoded is decoded straight at the smallest scale still covering the
        model's input (`draft`): several times faster for camera-sized photos, and the model
        sees the same resized pixels up to resampling differences.
        """
        image.draft("RGB", (self.image_size, self.image_size))
        for step in self._pil_steps:
            image = step(image)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)

    def embed_prepared(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Embed a batch of `prepare`d images: float32 rows of unit L2 norm, shape (n, dim)."""
        import torch

        if not arrays:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Denormal floats in activations cost the CPU up to 20x here (measured on the tests'
        # model) and change nothing a cosine search can see: flush them (per thread).
        torch.set_flush_denormal(True)
        with torch.inference_mode():
            features = self._model.encode_image(self.to_batch(arrays)).float()
            features = torch.nn.functional.normalize(features, dim=-1)
        return features.cpu().numpy().astype(np.float32, copy=False)

    def to_batch(self, arrays: Sequence[np.ndarray]) -> Any:
        """`prepare`d images -> the normalised float tensor batch the model takes."""
        import torch

        with torch.inference_mode():
            batch = torch.from_numpy(np.stack(arrays)).to(self.device)
            batch = batch.permute(0, 3, 1, 2).float().div_(255)  # as ToTensor does
            for step in self._tensor_steps:
                batch = step(batch)
        return batch

    def embed_images(self, images: Sequence[Image]) -> np.ndarray:
        """Embed PIL images in one batch (see `embed_prepared`)."""
        return self.embed_prepared([self.prepare(image) for image in images])

    def check_vector_size(self, vector_size: int | None, collection: str) -> None:
        """Refuse to write vectors the collection cannot hold, before anything is written."""
        if vector_size is not None and vector_size != self.dim:
            raise StoreMismatch(
                f"collection {collection!r} holds vectors of size {vector_size}, but "
                f"{self.config.describe()} produces vectors of size {self.dim}: choose the "
                "model the collection was built with (--clip-model) or another collection"
            )


def require_clip() -> None:
    """Raise ModelUnavailable, saying how to install it, when the `clip` extra (torch and
    OpenCLIP) is missing: browsing and deleting never need it, embedding always does."""
    try:
        import open_clip  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailable(
            f"embedding images needs torch and OpenCLIP, which are not installed ({exc}): "
            "install them with pip install 'vectorctl[clip]'"
        ) from None


def load_embedder(config: EmbedderConfig) -> Embedder:
    """Load the model and weights once; raise ModelUnavailable naming what was tried."""
    require_clip()
    device = resolve_device(config.device)
    weights_path = _weights_path(config)
    with _load_lock:
        try:
            model, preprocess = _create(config, weights_path)
        except Exception as exc:
            raise ModelUnavailable(_load_failure(config, exc)) from exc
    model = model.to(device).eval()
    return Embedder(config, model, preprocess, device)


def resolve_device(device: str) -> str:
    """`auto` means cuda when torch sees a GPU, else cpu; asking for cuda without one fails."""
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise ValidationError(f"device must be auto, cpu or cuda, not {device!r}")
    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise ModelUnavailable("device cuda was asked for but torch sees no GPU: use --device cpu")
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    return device


def vector_checksum(vector: np.ndarray) -> str:
    """SHA-256 of the float32 little-endian bytes: what the store holds, bit for bit."""
    return hashlib.sha256(np.ascontiguousarray(vector, dtype="<f4").tobytes()).hexdigest()


def _weights_path(config: EmbedderConfig) -> str | None:
    if config.is_random or not config.is_file:
        return None
    path = Path(config.pretrained).expanduser()
    if not path.is_file():
        raise ModelUnavailable(
            f"cannot load OpenCLIP {config.describe()}: weights file {path} does not exist; "
            + POINT_TO_FILE
        )
    return str(path)


def _create(config: EmbedderConfig, weights_path: str | None) -> tuple[Any, Any]:
    import open_clip
    import torch

    with _quiet_root_logger():
        if config.is_random:
            # Seeded so a demo library's vectors are reproducible; the RNG state is restored.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_SEED)
                model, _, preprocess = open_clip.create_model_and_transforms(config.model)
            return model, preprocess
        pretrained = weights_path or config.pretrained
        if weights_path is None and not _hub_reachable():
            # huggingface_hub retries an unreachable hub for about a minute (and a cancel
            # cannot stop it): with no network, look in the local cache only, fail at once.
            with _hub_offline():
                model, _, preprocess = open_clip.create_model_and_transforms(
                    config.model, pretrained=pretrained
                )
            return model, preprocess
        model, _, preprocess = open_clip.create_model_and_transforms(
            config.model, pretrained=pretrained
        )
        return model, preprocess


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """open_clip reports on the root logger ("initialized randomly", download errors);
    vectorctl reports the weights and any failure itself, in one line of its own."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        root.setLevel(level)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub (HF_ENDPOINT, default huggingface.co) accepts a connection."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((endpoint.hostname or "", endpoint.port or 443), timeout).close()
    except OSError:
        return False
    return True


@contextmanager
def _hub_offline() -> Iterator[None]:
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _load_failure(config: EmbedderConfig, exc: Exception) -> str:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if len(detail) > 300:
        detail = detail[:300] + "..."
    if config.is_file:
        return (
            f"cannot load OpenCLIP model {config.model!r} from weights file "
            f"{config.pretrained!r} ({detail}): check that the file holds weights for this "
            "model (--clip-model), or point to another file with --clip-pretrained "
            "/path/to/weights.bin or VECTORCTL_CLIP_PRETRAINED"
        )
    return (
        f"cannot load OpenCLIP model {config.model!r} with pretrained tag "
        f"{config.pretrained!r} ({detail})"
        + (
            ""
            if _hub_reachable()
            else "; the model hub cannot be reached and the weights are not in the local cache"
        )
        + f"; {POINT_TO_FILE}"
    )
