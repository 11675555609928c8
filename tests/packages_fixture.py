"""Policy folders for the tests of packages: an organisation-wide base policy with its own source
document, and a department's policy that uses it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

BASE_RULES = """\
source base "base.md"

party staff "the organisation's employees" §1
party contractor §1
data personal_information §2
data email under personal_information §2
data health under personal_information §2
purpose support §3
purpose research §3
obligation log_access §3

context destination: string "where the data goes" §4
context verified: boolean §3
context consented_purposes: set of purpose from consent ledger §3

rule staff_support §3 "Staff support the person concerned"
  allow staff to use personal_information for support
  when verified
  with obligation log_access

rule research_with_consent §3
  allow any party to use email for research
  when purpose in consented_purposes

rule no_export §4 "Nothing leaves Québec"
  deny any party from using any data for any purpose
  when destination != "CA-QC"

invariant never_abroad §4
  never any party use any data when destination != "CA-QC"
"""

BASE_DOCUMENT = """\
# The base policy

1. Parties
Staff and contractors.

2. Data
Personal information, email, health.

3. Purposes
Support and research.

4. Transfers
Nothing leaves Québec.
"""

DEPT_RULES = """\
use base from "../base"

party agents under base.staff "the department's agents"
context where: string supplies base.destination "where the data goes"

rule agents_email "Agents read email for support"
  allow agents to use base.email for base.support

rule no_health "The department never touches health data"
  deny any party from using base.health for any purpose
"""


def write(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (relative path → text) below ``root``; return ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def base_and_dept(root: Path, dept: str = DEPT_RULES) -> Path:
    """``root/base`` (the base policy and its document) and ``root/dept`` (which uses it)."""
    write(
        root,
        {
            "base/rules.policy": BASE_RULES,
            "base/base.md": BASE_DOCUMENT,
            "dept/rules.policy": dept,
        },
    )
    return root / "dept"
