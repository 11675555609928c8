"""The compiled cache of a policy that uses packages.

An image is keyed by the exact text of every rule file it was made from. The rule files of a
policy's packages are only known once its own are parsed, which is what the cache saves; so such
a policy is kept in two entries:

* under the key of its own rule files (as read), a *manifest*: each package's ``use`` (the rule
  file that says it and the path written), the folder it led to, and which of the rule files
  read there are the package's own (depth first, in the order of the uses);
* under a key of those files, of the manifest itself, and of the text of **every** file read from
  each package folder, the image.

Restoring reads the manifest, reads each package folder again exactly as loading does
(:class:`~policy_engine.language.package_folders.Folders`: no symbolic link followed), and looks
the image up under the key of what it read. Any change in a package (a file edited, added or
removed, a folder moved) changes that key: a package's change is never served stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from ..language import ast
from ..language.errors import PolicyError
from ..language.package_folders import Folders
from ..language.packages import LoadedPolicy
from ..language.source import Source, hash_named

Manifest = list[tuple[str, str, str, tuple[str, ...]]]
"""Per package, depth first: (rule file of its ``use``, path written, folder, its own files)."""


def manifest_of(policy: LoadedPolicy) -> tuple[Manifest, list[tuple[Source, ...]]]:
    """The manifest of ``policy``'s packages, and the rule files read from each folder."""
    manifest: Manifest = []
    reads: list[tuple[Source, ...]] = []
    for package in policy.packages:
        rule_file = package.decl.span.source.name if package.decl.span is not None else ""
        own = tuple(s.name for s in package.policy.sources)
        manifest.append((rule_file, package.decl.path, package.folder, own))
        reads.append(package.read)
        inner, inner_reads = manifest_of(package.policy)
        manifest += inner
        reads += inner_reads
    return manifest, reads


def image_key(manifest: Manifest, reads: Sequence[Sequence[Source]]) -> str:
    """What the image of a policy with packages depends on besides its rule files: the
    manifest and every file read from each package folder (names and texts)."""
    digest = hashlib.sha256(b"packages\0")
    for (rule_file, path, folder, names), read in zip(manifest, reads, strict=True):
        digest.update(f"{rule_file}\0{path}\0{folder}\0{len(read)}\0".encode())
        for name in names:
            digest.update(name.encode() + b"\0")
        hash_named(digest, read)
    return digest.hexdigest()


def valid_manifest(found: Any) -> Manifest | None:
    if not isinstance(found, list):
        return None
    for entry in found:
        if not (
            isinstance(entry, tuple)
            and len(entry) == 4
            and all(isinstance(part, str) for part in entry[:3])
            and isinstance(entry[3], tuple)
            and all(isinstance(name, str) for name in entry[3])
        ):
            return None
    return found


def reread(
    manifest: Manifest, own: Sequence[Source], folders: Folders
) -> tuple[list[Source], str] | None:
    """Every rule file of the policy in the image's order (its own, then each package's own),
    and the key of the image of what was read; None when a package can no longer be read
    the way the manifest says."""
    every = list(own)
    reads = []
    for rule_file, path, folder, names in manifest:
        decl = ast.UseDecl(ast.Name("package"), path)
        try:
            if folders.locate(rule_file, decl) != folder:
                return None
            read = folders.read(folder, decl)
        except PolicyError:
            return None
        by_name = {source.name: source for source in read}
        if not all(name in by_name for name in names):
            return None
        every.extend(by_name[name] for name in names)
        reads.append(read)
    return every, image_key(manifest, reads)
