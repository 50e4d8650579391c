"""The OpenCLIP embedder: real open_clip code path with a tiny architecture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.tiny_clip import TINY_DIM, TINY_MODEL, make_images, register_tiny_model
from vectorctl.core.embedding import (
    RANDOM_LABEL,
    EmbedderConfig,
    load_embedder,
    vector_checksum,
)
from vectorctl.core.errors import ModelUnavailable, StoreMismatch

pytestmark = pytest.mark.clip


@pytest.fixture(scope="module")
def model_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    return register_tiny_model(tmp_path_factory.mktemp("clip"))


@pytest.fixture
def images(tmp_path: Path) -> list[Image.Image]:
    paths = make_images(tmp_path, [f"img{i}.png" for i in range(6)])
    return [Image.open(p) for p in paths]


def test_random_weights_are_seeded_normalised_and_labelled(
    model_name: str, images: list[Image.Image]
) -> None:
    first = load_embedder(EmbedderConfig(model_name, "random", "cpu"))
    second = load_embedder(EmbedderConfig(model_name, "random", "auto"))

    vectors = first.embed_images(images)

    assert vectors.shape == (len(images), TINY_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors, second.embed_images(images))
    assert first.weights_label == RANDOM_LABEL
    assert first.model_version == f"{TINY_MODEL}/random"
    assert first.device == "cpu"


def test_batched_preprocessing_matches_open_clip_own_transforms(
    model_name: str, images: list[Image.Image]
) -> None:
    import open_clip
    import torch

    embedder = load_embedder(EmbedderConfig(model_name, "random", "cpu"))
    _, _, preprocess = open_clip.create_model_and_transforms(model_name)
    with torch.no_grad():
        batch = torch.stack([preprocess(image) for image in images])
        expected = torch.nn.functional.normalize(embedder.model.encode_image(batch), dim=-1)

    np.testing.assert_allclose(embedder.embed_images(images), expected.numpy(), atol=1e-6)


def test_saved_weights_file_loads_through_the_production_path(
    model_name: str, images: list[Image.Image], tmp_path: Path
) -> None:
    import torch

    random_weights = load_embedder(EmbedderConfig(model_name, "random", "cpu"))
    weights = tmp_path / "tiny-weights.bin"
    torch.save(random_weights.model.state_dict(), weights)

    loaded = load_embedder(EmbedderConfig(model_name, str(weights), "cpu"))

    np.testing.assert_array_equal(loaded.embed_images(images), random_weights.embed_images(images))
    assert loaded.weights_label == f"file {weights}"
    assert loaded.model_version == f"{TINY_MODEL}/tiny-weights.bin"


def test_missing_weights_file_names_what_was_tried_and_how_to_fix(model_name: str) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        load_embedder(EmbedderConfig(model_name, "/nowhere/weights.bin", "cpu"))
    message = str(caught.value)
    assert "/nowhere/weights.bin" in message and model_name in message
    assert "--clip-pretrained" in message and "VECTORCTL_CLIP_PRETRAINED" in message


def test_unknown_tag_is_refused_never_replaced_by_random_weights(model_name: str) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        load_embedder(EmbedderConfig(model_name, "no-such-tag", "cpu"))
    message = str(caught.value)
    assert "'no-such-tag'" in message and "--clip-pretrained" in message


def test_pretrained_tag_with_an_unreachable_hub_fails_from_the_cache_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No retrying for a minute: with the hub unreachable only the local cache is asked."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a closed port
    monkeypatch.setenv("HF_HOME", "/nonexistent-vectorctl-cache")
    offline_before = constants.HF_HUB_OFFLINE
    with pytest.raises(ModelUnavailable) as caught:
        load_embedder(EmbedderConfig("ViT-B-32", "openai", "cpu"))
    assert "cannot be reached" in str(caught.value)
    assert offline_before == constants.HF_HUB_OFFLINE  # the process's setting is restored


def test_weights_of_another_architecture_are_refused(model_name: str, tmp_path: Path) -> None:
    weights = tmp_path / "other.bin"
    weights.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailable, match="from weights file"):
        load_embedder(EmbedderConfig(model_name, str(weights), "cpu"))


def test_cuda_without_a_gpu_is_a_clear_error(model_name: str) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelUnavailable, match="no GPU"):
        load_embedder(EmbedderConfig(model_name, "random", "cuda"))


def test_vector_size_is_checked_against_the_collection(model_name: str) -> None:
    embedder = load_embedder(EmbedderConfig(model_name, "random", "cpu"))
    embedder.check_vector_size(TINY_DIM, "images")
    with pytest.raises(StoreMismatch, match="size 512"):
        embedder.check_vector_size(512, "images")


def test_checksum_is_of_the_float32_bytes() -> None:
    vector = np.array([0.6, 0.8], dtype=np.float64)
    assert vector_checksum(vector) == vector_checksum(vector.astype(np.float32))
    assert vector_checksum(vector) != vector_checksum(np.array([0.8, 0.6]))


@pytest.mark.parametrize(
    "module",
    [
        "vectorctl.core.jobs",
        "vectorctl.core.worker",
        "vectorctl.core.ingest",
        "vectorctl.core.retrain",
        "vectorctl.core.demo",
        "vectorctl.core.embedding",
    ],
)
def test_modules_do_not_import_torch_until_embedding(module: str) -> None:
    code = f"import sys, {module}; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
