"""The shared benchmark workload: one 10-rule first-hit table over 10 fields,
written three ways (our policy language, a hand-written if/elif function, and
a GoRules zen-engine JDM decision table), plus deterministic records."""

from __future__ import annotations

import json
import random
from typing import Any

POLICY_YAML = """
id: bench_tier
version: "1"
hit: first
labels:
  - {id: risky, zh: 风险, en: Risky}
  - {id: platinum, zh: 白金, en: Platinum}
  - {id: gold, zh: 黄金, en: Gold}
  - {id: silver, zh: 白银, en: Silver}
  - {id: watch, zh: 观察, en: Watch}
  - {id: bronze, zh: 青铜, en: Bronze}
rules:
  - {id: r01, when: 'value.overdue_days > 90', then: risky}
  - {id: r02, when: 'value.overdue_amount >= 200000 and value.overdue_days > 30', then: risky}
  - {id: r03, when: 'value.revenue_12m >= 5000000 and value.profit_12m >= 500000', then: platinum}
  - {id: r04, when: 'value.revenue_12m >= 2000000 and value.loyalty >= 2 and kind == "company"', then: platinum}
  - {id: r05, when: 'value.revenue_12m >= 1000000 and value.growth_rate >= 0.1', then: gold}
  - {id: r06, when: 'value.orders_12m >= 50 and value.price_sensitivity <= 1', then: gold}
  - {id: r07, when: 'value.revenue_12m >= 300000 and lead.budget_status == "approved"', then: silver}
  - {id: r08, when: 'value.profit_12m < 0', then: watch}
  - {id: r09, when: 'value.growth_rate < -0.2 and value.loyalty <= 1', then: watch}
  - {id: r10, when: 'value.orders_12m >= 10', then: silver}
default: bronze
"""

FIELDS = (
    "value.revenue_12m",
    "value.profit_12m",
    "value.orders_12m",
    "value.overdue_amount",
    "value.overdue_days",
    "value.growth_rate",
    "value.price_sensitivity",
    "value.loyalty",
    "lead.budget_status",
    "kind",
)


def handwritten(c: Any) -> tuple[str, str | None]:
    """The same table as plain Python over a Customer (None = unknown, never matches)."""
    v = c.value
    od, oa = v.overdue_days, v.overdue_amount
    rev, prof, orders, growth, loyal = v.revenue_12m, v.profit_12m, v.orders_12m, v.growth_rate, v.loyalty
    if od is not None and od > 90:
        return "risky", "r01"
    if oa is not None and od is not None and oa >= 200000 and od > 30:
        return "risky", "r02"
    if rev is not None and prof is not None and rev >= 5000000 and prof >= 500000:
        return "platinum", "r03"
    if rev is not None and loyal is not None and rev >= 2000000 and loyal >= 2 and c.kind == "company":
        return "platinum", "r04"
    if rev is not None and growth is not None and rev >= 1000000 and growth >= 0.1:
        return "gold", "r05"
    ps = v.price_sensitivity
    if orders is not None and ps is not None and orders >= 50 and ps <= 1:
        return "gold", "r06"
    if rev is not None and rev >= 300000 and c.lead.budget_status == "approved":
        return "silver", "r07"
    if prof is not None and prof < 0:
        return "watch", "r08"
    if growth is not None and loyal is not None and growth < -0.2 and loyal <= 1:
        return "watch", "r09"
    if orders is not None and orders >= 10:
        return "silver", "r10"
    return "bronze", None


def zen_jdm() -> str:
    """The same table as a zen-engine (GoRules JDM) first-hit decision table."""
    inputs = [{"id": f"i{i}", "name": f, "field": f} for i, f in enumerate(FIELDS)]
    col = {f: f"i{i}" for i, f in enumerate(FIELDS)}

    def rule(rid: str, label: str, **cells: str) -> dict[str, str]:
        row = {"_id": rid, "o0": json.dumps(label), "o1": json.dumps(rid)}
        for inp in inputs:
            row[inp["id"]] = ""
        for field, cond in cells.items():
            row[col[field.replace("__", ".")]] = cond
        return row

    rules = [
        rule("r01", "risky", value__overdue_days="> 90"),
        rule("r02", "risky", value__overdue_amount=">= 200000", value__overdue_days="> 30"),
        rule("r03", "platinum", value__revenue_12m=">= 5000000", value__profit_12m=">= 500000"),
        rule("r04", "platinum", value__revenue_12m=">= 2000000", value__loyalty=">= 2", kind='"company"'),
        rule("r05", "gold", value__revenue_12m=">= 1000000", value__growth_rate=">= 0.1"),
        rule("r06", "gold", value__orders_12m=">= 50", value__price_sensitivity="<= 1"),
        rule("r07", "silver", value__revenue_12m=">= 300000", lead__budget_status='"approved"'),
        rule("r08", "watch", value__profit_12m="< 0"),
        rule("r09", "watch", value__growth_rate="< -0.2", value__loyalty="<= 1"),
        rule("r10", "silver", value__orders_12m=">= 10"),
        rule("default", "bronze"),
    ]
    pos = {"x": 0, "y": 0}
    model = {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "Request", "position": pos},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": "bench_tier",
                "position": pos,
                "content": {
                    "hitPolicy": "first",
                    "inputs": inputs,
                    "outputs": [
                        {"id": "o0", "name": "label", "field": "label"},
                        {"id": "o1", "name": "rule", "field": "rule"},
                    ],
                    "rules": rules,
                },
            },
            {"id": "out", "type": "outputNode", "name": "Response", "position": pos},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "out", "type": "edge"},
        ],
    }
    return json.dumps(model)


def make_records(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """Deterministic flat-ish customer dicts exercising every rule, ~5% unknowns."""
    rnd = random.Random(seed)

    def maybe(x: Any) -> Any:
        return None if rnd.random() < 0.05 else x

    out = []
    for i in range(n):
        out.append(
            {
                "id": f"B{i:07d}",
                "kind": rnd.choice(["company", "person", "retailer", "terminal"]),
                "value": {
                    "revenue_12m": maybe(round(rnd.lognormvariate(13, 1.5), 2)),
                    "profit_12m": maybe(round(rnd.gauss(100000, 400000), 2)),
                    "orders_12m": maybe(rnd.randint(0, 120)),
                    "overdue_amount": maybe(round(rnd.expovariate(1 / 50000), 2)),
                    "overdue_days": maybe(rnd.choice([0, 0, 0, 10, 40, 100])),
                    "growth_rate": maybe(round(rnd.uniform(-0.5, 0.6), 3)),
                    "price_sensitivity": maybe(rnd.randint(0, 3)),
                    "loyalty": maybe(rnd.randint(0, 3)),
                },
                "lead": {"budget_status": maybe(rnd.choice(["approved", "pending", "none"]))},
            }
        )
    return out
