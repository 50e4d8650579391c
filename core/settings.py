"""Where vectorctl finds its database and vector store.

Resolution order, strongest first: explicit flags > environment (`VECTORCTL_*`) > profile
file (TOML) > the embedded default (SQLite file + Qdrant Edge directory in the user's data
directory), which needs no setup at all.
"""

from __future__ import annotations

import datetime
import getpass
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vectorctl.core.errors import ValidationError

DEFAULT_COLLECTION = "image_assets"
DEFAULT_FACES_COLLECTION = "faces"
DEFAULT_VECTOR_SIZE = 512
RESET_PHRASE = "DELETE ALL VECTORS"

# Environment variable for each setting that can come from the environment.
ENV_VARS = {
    "database_url": "VECTORCTL_DATABASE_URL",
    "qdrant_url": "VECTORCTL_QDRANT_URL",
    "qdrant_api_key": "VECTORCTL_QDRANT_API_KEY",
    "qdrant_path": "VECTORCTL_QDRANT_PATH",
    "qdrant_edge": "VECTORCTL_QDRANT_EDGE",
    "collection": "VECTORCTL_COLLECTION",
    "faces_collection": "VECTORCTL_FACES_COLLECTION",
    "vector_size": "VECTORCTL_VECTOR_SIZE",
    "data_dir": "VECTORCTL_DATA_DIR",
    "operator": "VECTORCTL_OPERATOR",
    "read_only": "VECTORCTL_READ_ONLY",
    "clip_model": "VECTORCTL_CLIP_MODEL",
    "clip_pretrained": "VECTORCTL_CLIP_PRETRAINED",
    "device": "VECTORCTL_DEVICE",
}
PROFILE_ENV = "VECTORCTL_PROFILE"
# The TOML type of each profile key that is not a string (every other key is one).
_PROFILE_TYPES: dict[str, type] = {"vector_size": int, "read_only": bool, "keymap": dict}
_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "true or false"),  # before int: bool is an int subclass
    (int, "a whole number"),
    (float, "a decimal number"),
    (str, "a quoted string"),
    (dict, "a table"),
    (list, "an array"),
    (datetime.date, "a date"),
    (datetime.time, "a time"),
)


@dataclass(frozen=True)
class Settings:
    """One deployment: which database, which vector store, who is operating."""

    data_dir: Path
    database_url: str
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_path: str | None = None
    qdrant_edge: str | None = None
    collection: str = DEFAULT_COLLECTION
    # The image-search service's face collection beside `collection` (reference 002): drift
    # compares its `person_id` payloads with `face_instances`.
    faces_collection: str = DEFAULT_FACES_COLLECTION
    vector_size: int = DEFAULT_VECTOR_SIZE
    distance: str = "cosine"
    read_only: bool = False
    operator: str = ""
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "openai"
    device: str = "auto"
    # Where each setting came from ("flag", "env", "profile", "default"), for `info`.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # The console's keys, remapped: binding id -> keys (`directories.delete = "ctrl+d"`),
    # from the profile's [keymap] table; `vectorctl` prints the ids in its help (?).
    keymap: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def store_kind(self) -> str:
        """`server`, `local` (qdrant-client local mode) or `edge` (Qdrant Edge in process)."""
        if self.qdrant_url:
            return "server"
        if self.qdrant_path:
            return "local"
        return "edge"

    @property
    def store_location(self) -> str:
        """The server URL or the storage directory, for messages (never holds a secret)."""
        return self.qdrant_url or self.qdrant_path or self.qdrant_edge or ""

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def embedded_database(self) -> bool:
        """True when the database is the default SQLite file, which vectorctl may migrate itself."""
        return self.sources.get("database_url") == "default"

    def masked_database_url(self) -> str:
        return mask_url(self.database_url)

    def describe(self) -> dict[str, Any]:
        """The resolved configuration with every secret masked, for `info` and the header,
        and where each value came from (flag, env, profile, default, or unset)."""
        values = {
            "database_url": self.masked_database_url(),
            "store": self.store_kind,
            "qdrant": mask_url(self.store_location) if self.qdrant_url else self.store_location,
            "qdrant_api_key": "****" if self.qdrant_api_key else None,
            "collection": self.collection,
            "faces_collection": self.faces_collection,
            "vector_size": self.vector_size,
            "distance": self.distance,
            "data_dir": str(self.data_dir),
            "read_only": self.read_only,
            "operator": self.operator,
            "clip_model": self.clip_model,
            "clip_pretrained": self.clip_pretrained,
            "device": self.device,
        }
        store_key = {"server": "qdrant_url", "local": "qdrant_path", "edge": "qdrant_edge"}
        derived = {"store": store_key[self.store_kind], "qdrant": store_key[self.store_kind]}
        sources = {
            key: self.sources.get(derived.get(key, key))
            or ("unset" if value is None else "default")
            for key, value in values.items()
        }
        return {**values, "sources": sources}


# Query parameters whose value is a credential: anything naming a password, secret, token
# or key (libpq's `password` and `sslpassword`, Qdrant's `api_key`), except the libpq
# parameters that only name a file.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "key", "credential")
_FILE_PARAMETERS = frozenset({"sslkey", "sslkeylogfile"})
MASK = "***"
_PARAMETER = re.compile(r"([^&=]+)=([^&]*)")


def is_secret_name(name: str) -> bool:
    """True for a parameter or flag name whose value is a credential (`password`, `api_key`)."""
    lowered = name.lower().lstrip("-").replace("-", "_")
    return lowered not in _FILE_PARAMETERS and any(w in lowered for w in _SECRET_WORDS)


def mask_url(url: str) -> str:
    """The URL with every credential hidden: the password in any form SQLAlchemy accepts
    (`postgresql://u:secret@h/db`, percent-escaped or not) and credential query parameters
    (`?password=`, `?sslpassword=`, `?api_key=`). A string that is not a URL (a directory)
    comes back unchanged."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return _mask_unparsed(url)
    host = parsed.host or ""
    if "@" in host:  # an unescaped `@` in the password: all before the last one is secret
        parsed = parsed.set(password=MASK, host=host.rpartition("@")[2])
    # The query is written out by hand: SQLAlchemy would percent-escape `/run/pg` and `***`.
    query = "&".join(
        f"{name}={MASK if is_secret_name(name) else value}"
        for name, values in parsed.query.items()
        for value in ([values] if isinstance(values, str) else values)
    )
    base = parsed.set(query={}).render_as_string(hide_password=True)
    return f"{base}?{query}" if query else base


def _mask_unparsed(text: str) -> str:
    """Best effort for what SQLAlchemy cannot parse (say, a port that is not a number):
    hide all before the last `@` of the part ahead of the query, and every credential
    parameter."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    head, question, query = rest.partition("?")
    if "@" in head:
        head = f"{MASK}@{head.rpartition('@')[2]}"
    query = _PARAMETER.sub(lambda m: f"{m[1]}={MASK}" if is_secret_name(m[1]) else m[0], query)
    return f"{scheme}://{head}{question}{query}"


def hide_secrets(text: str, url: str) -> str:
    """`text` (a driver's message about `url`, which may quote the host or the connection
    string) with every credential `url` carries replaced."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return text
    secrets = {parsed.password or "", (parsed.host or "").rpartition("@")[0]}
    for name, value in parsed.query.items():
        if is_secret_name(name):
            secrets.update([value] if isinstance(value, str) else value)
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(str(secret), MASK)
    return text


def default_operator() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment (containers): still say where
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValidationError(f"{name} must be true or false, not {value!r}")


def _read_profile(path: Path | None, env: Mapping[str, str]) -> tuple[dict[str, Any], Path | None]:
    explicit = path or (Path(env[PROFILE_ENV]) if env.get(PROFILE_ENV) else None)
    candidate = explicit or Path(platformdirs.user_config_dir("vectorctl")) / "profile.toml"
    if not candidate.exists():
        if explicit:
            raise ValidationError(f"profile file {candidate} does not exist")
        return {}, None
    try:
        data = tomllib.loads(candidate.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"profile file {candidate} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"profile file {candidate} cannot be read: {exc}") from exc
    known = {f.name for f in fields(Settings)} - {"sources"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"profile file {candidate} has unknown keys: {', '.join(unknown)}")
    for key, value in data.items():
        expected = _PROFILE_TYPES.get(key, str)
        # TOML's booleans are Python ints too: `vector_size = true` is not a size.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValidationError(
                f"profile file {candidate}: {key} must be {_toml_type(expected)}, "
                f"not {_toml_type(type(value))}"
            )
    if "keymap" in data:
        # `directories.delete = "k"` is a table in TOML, `"directories.delete" = "k"` a key:
        # both name the binding directories.delete.
        data["keymap"] = _flatten(data["keymap"])
    for binding, keys in data.get("keymap", {}).items():
        if not isinstance(keys, str) or not keys.strip():
            raise ValidationError(
                f"profile file {candidate}: keymap.{binding} must be keys in a quoted string "
                f'such as "ctrl+d" or "d,delete", not {_toml_type(type(keys))}'
            )
    return data, candidate


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _toml_type(kind: type) -> str:
    """How the TOML file spells a value of this Python type, for messages."""
    for python, toml in _TOML_TYPES:
        if issubclass(kind, python):
            return toml
    return kind.__name__


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    profile: Path | None = None,
    use_profile: bool = True,
) -> Settings:
    """Resolve settings: `overrides` (flags; None means not given) > env > profile > default."""
    env = os.environ if env is None else env
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    profile_values = _read_profile(profile, env)[0] if use_profile else {}

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in ENV_VARS.keys() | flags.keys() | profile_values.keys():
        if name in flags:
            values[name], sources[name] = flags[name], "flag"
        elif name in ENV_VARS and env.get(ENV_VARS[name]):
            values[name], sources[name] = env[ENV_VARS[name]], "env"
        elif name in profile_values:
            values[name], sources[name] = profile_values[name], "profile"

    data_dir = Path(values.get("data_dir") or platformdirs.user_data_dir("vectorctl")).expanduser()
    values["data_dir"] = data_dir
    sources.setdefault("data_dir", "default")
    if not values.get("database_url"):
        values["database_url"] = f"sqlite:///{data_dir / 'vectorctl.sqlite3'}"
        sources["database_url"] = "default"
    stores = [k for k in ("qdrant_url", "qdrant_path", "qdrant_edge") if values.get(k)]
    if len(stores) > 1:
        raise ValidationError(
            "choose one vector store: "
            + " and ".join(f"--{k.replace('_', '-')}" for k in stores)
            + " were both given"
        )
    if not stores:
        values["qdrant_edge"] = str(data_dir / "qdrant-edge")
        sources["qdrant_edge"] = "default"
    values["read_only"] = _parse_bool("read_only", values.get("read_only", False))
    if "vector_size" in values:
        try:
            values["vector_size"] = int(values["vector_size"])
        except ValueError:
            raise ValidationError(
                f"vector size must be a number, not {values['vector_size']!r}"
            ) from None
        if values["vector_size"] < 1:
            raise ValidationError("vector size must be positive")
    values.setdefault("operator", default_operator())
    if values.get("device", "auto") not in ("auto", "cpu", "cuda"):
        raise ValidationError(f"device must be auto, cpu or cuda, not {values['device']!r}")
    if not str(values.get("collection", DEFAULT_COLLECTION)).strip():
        raise ValidationError("collection name is empty")
    return Settings(sources=sources, **values)


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """A copy with some values replaced (tests and the demo point at their own places)."""
    return replace(settings, **changes)
