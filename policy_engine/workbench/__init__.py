"""The workbench: the web pages where compliance staff read a policy beside the text it encodes,
look at its disclosure matrix and register, try requests, and propose changes whose exact effect
on decisions they see before anyone merges them (``policy-engine workbench``; ``policy-engine
serve`` serves the same pages at ``/ui/``). See ``docs/workbench.md``.

The pages are a thin shell: every answer comes from the library (decisions, explanations,
``check``, the policy tests, the semantic diff, the matrix and the register) through the JSON
endpoints of :mod:`.app`; no decision is made in the browser.
"""

from .app import create_workbench
from .source import FolderSource, PolicySource, ServedPolicy
from .state import Options, Workbench

__all__ = [
    "FolderSource",
    "Options",
    "PolicySource",
    "ServedPolicy",
    "Workbench",
    "create_workbench",
]
