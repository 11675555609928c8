"""The service's records as its config sets them up: the database opened with the log key
(:mod:`.log_mac`) and the file-mode rule for SQLite (:mod:`.sqlite_files`), and where anchors of
the log's head go (:mod:`.log_anchor_sink`). Whatever is wrong is a :class:`ConfigError` or a
:class:`StorageError`, raised before the service starts."""

from __future__ import annotations

from .config import ConfigError, ServiceConfig
from .log_anchor_sink import AnchorPathError, AnchorSink
from .log_mac import LogKeyError, load_log_key
from .storage import Storage, open_storage


def open_records(db_url: str | None, config: ServiceConfig) -> tuple[Storage, AnchorSink | None]:
    """The storage at ``db_url`` and, with ``anchor_path``, the sink its anchors go to."""
    try:
        key = load_log_key(config.log_key_file)
    except LogKeyError as exc:
        raise ConfigError(str(exc)) from None
    storage = open_storage(db_url, log_key=key, allow_readable=config.allow_readable_database)
    if config.anchor_path is None:
        return storage, None
    try:
        return storage, AnchorSink(config.anchor_path, storage)
    except AnchorPathError as exc:
        storage.close()
        raise ConfigError(str(exc)) from None
