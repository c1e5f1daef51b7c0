"""Decision tables from other tools: GoRules JDM, DMN 1.3-1.5 XML and spreadsheets.

>>> from customer_rules import interop
>>> graph = interop.to_jdm(policy)            # doctest: +SKIP
>>> policy = interop.from_dmn("table.dmn")    # doctest: +SKIP

Each ``from_*`` reads a decision table into a :class:`~customer_rules.Policy`,
each ``to_*`` writes one. Only the subset the formats share is converted
(see :mod:`customer_rules.interop.table`); everything else is an
:class:`InteropError` naming the rule or cell, never an approximation.
"""

from __future__ import annotations

from customer_rules.interop.dmn import from_dmn, to_dmn
from customer_rules.interop.files import FORMATS, read_policy, write_policy
from customer_rules.interop.jdm import ZEN_DIFFERENCES, from_jdm, to_jdm, zen_input
from customer_rules.interop.table import InteropError
from customer_rules.interop.xlsx import from_xlsx, to_xlsx

__all__ = [
    "FORMATS",
    "ZEN_DIFFERENCES",
    "InteropError",
    "from_dmn",
    "from_jdm",
    "from_xlsx",
    "read_policy",
    "to_dmn",
    "to_jdm",
    "to_xlsx",
    "write_policy",
    "zen_input",
]
