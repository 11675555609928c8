"""The log key: a secret kept outside the database, with which each decision log entry carries a
keyed MAC and each anchor of the log's head is signed.

The MAC is HMAC-SHA256 (standard library, no new dependency; some 1-2 µs an entry) over the
entry's chain hash, which already covers the entry and every entry before it. Whoever rewrites
the log and recomputes the chain with the published function (:func:`.log_chain.chain_hash`)
cannot recompute the MACs without the key, so ``log verify`` with the key names the first
rewritten entry. The verifier needs the key itself: an auditor given the key could also forge
MACs (a signature scheme such as Ed25519 would let the verifier hold only a public key, at some
50 µs an entry and a new dependency).

The key comes from the environment, ``POLICY_ENGINE_LOG_KEY`` (the key itself) or
``POLICY_ENGINE_LOG_KEY_FILE`` (a file holding it), or else from the file the service config's
``log_key_file`` names; it is never written to the database.
"""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path

LOG_KEY_ENV = "POLICY_ENGINE_LOG_KEY"
LOG_KEY_FILE_ENV = "POLICY_ENGINE_LOG_KEY_FILE"
KEY_SHARED_BITS = 0o077
"""A key file with any of these bits (group or others may read, write or run it) is refused,
as ssh refuses a private key others can read."""
#: A shorter key is refused: a MAC is only as strong as the key is hard to guess.
MIN_KEY_BYTES = 16

# What each MAC covers starts with its purpose, so that an entry's MAC can never pass for an
# anchor's, or the other way round.
_ENTRY = b"policy-engine log entry\x00"
_ANCHOR = b"policy-engine log anchor\x00"
_KEY_ID = b"policy-engine log key id\x00"


class LogKeyError(Exception):
    """The log key cannot be read, or is too short."""


class LogKey:
    """A log key, ready to MAC entries and sign anchors. Its :attr:`key_id` (a hash of the key)
    names it in anchors and messages without revealing it."""

    __slots__ = ("_anchor", "_entry", "key_id", "source")

    def __init__(self, secret: bytes, source: str = "") -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise LogKeyError(
                f"the log key{f' in {source}' if source else ''} is {len(secret)} bytes long; "
                f"a log key is at least {MIN_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            )
        self.source = source
        # Keyed once; each MAC copies the keyed state, in OpenSSL (the digest named by its
        # string: hashlib.sha256 would copy in Python).
        self._entry = hmac.new(secret, _ENTRY, "sha256")
        self._anchor = hmac.new(secret, _ANCHOR, "sha256")
        self.key_id = hmac.new(secret, _KEY_ID, "sha256").hexdigest()[:16]

    def entry_mac(self, chain_hash: str) -> str:
        """The MAC of the entry whose chain hash is ``chain_hash``."""
        mac = self._entry.copy()
        mac.update(chain_hash.encode("ascii"))
        return mac.hexdigest()

    def entry_mac_ok(self, chain_hash: str, mac: str) -> bool:
        return hmac.compare_digest(self.entry_mac(chain_hash), mac)

    def sign(self, payload: str) -> str:
        """The MAC of an anchor's canonical JSON (without its ``mac`` field)."""
        mac = self._anchor.copy()
        mac.update(payload.encode("utf-8"))
        return mac.hexdigest()

    def signature_ok(self, payload: str, mac: str) -> bool:
        return hmac.compare_digest(self.sign(payload), mac)

    def __repr__(self) -> str:  # never the secret
        return f"LogKey(key_id={self.key_id!r})"


def load_log_key(key_file: str | os.PathLike[str] | None = None) -> LogKey | None:
    """The log key: ``POLICY_ENGINE_LOG_KEY``, else the file ``POLICY_ENGINE_LOG_KEY_FILE``
    names, else ``key_file`` (the config's ``log_key_file``), else None (no key: entries carry
    no MAC and anchors are unsigned). A key file's trailing line break is not part of the key."""
    secret = os.environ.get(LOG_KEY_ENV)
    if secret:
        return LogKey(secret.encode("utf-8"), f"${LOG_KEY_ENV}")
    path = os.environ.get(LOG_KEY_FILE_ENV) or (os.fspath(key_file) if key_file else None)
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as exc:
        raise LogKeyError(f"cannot read the log key file `{path}`: {exc.strerror}") from None
    if mode & KEY_SHARED_BITS:
        raise LogKeyError(
            f"the log key file `{path}` may be read or written by other users (mode "
            f"{mode:04o}): whoever can read the key can forge entries and anchors; "
            "`chmod 600` it"
        )
    return LogKey(data.rstrip(b"\r\n"), f"`{path}`")
