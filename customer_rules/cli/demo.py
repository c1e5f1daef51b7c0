"""The README demo: classify the built-in sample customers, then customers
built from the sample order log, and explain a few."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from customer_rules.apps.allocate import allocate
from customer_rules.engine.engine import BatchResult, Engine
from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers, sample_orders
from customer_rules.model.records import Customer


def run_demo(out: TextIO, *, lang: str = "en", n: int = 300, explain: int = 3) -> None:
    zh = lang == "zh"
    engine = Engine()
    customers = sample_customers(n)
    # population-relative schemes (pyramid, terminal ranking, stars) learn their cut-offs here
    engine.fit(customers, as_of=SAMPLE_AS_OF)
    batch = engine.classify_many(customers, as_of=SAMPLE_AS_OF)
    title = (
        f"客户分类演示：{len(customers)} 位样本客户，截至{SAMPLE_AS_OF.year}年{SAMPLE_AS_OF.month}月{SAMPLE_AS_OF.day}日"
        if zh
        else f"customer_rules demo: {len(customers)} sample customers as of {SAMPLE_AS_OF}"
    )
    print(title, file=out)
    print("=" * len(title), file=out)
    for sid, scheme in engine.schemes.items():
        counts = Counter(p[sid].label for p in batch.profiles if sid in p)
        source = (
            ""
            if scheme.plugin and scheme.plugin.startswith("customer_rules.")
            else f", plugin {scheme.plugin}"
        )
        if zh:
            kind = {"type": "类型", "tier": "分级", "crisis": "危机", "other": "其他"}[scheme.kind]
            name = scheme.policy.name.zh if scheme.policy.name is not None else sid
            print(f"\n{name}（{kind}{'，插件' if source else ''}）", file=out)
        else:
            print(f"\n{sid} ({scheme.kind}{source})", file=out)
        if set(counts) == {None}:
            print(
                "  样本客户都没有此方案所需的输入" if zh else "  no sample customer has this scheme's inputs",
                file=out,
            )
            continue
        for label in [*scheme.labels, None]:
            if counts.get(label):
                name = (
                    scheme.policy.label(label).name(lang) if label else ("未分类" if zh else "unclassified")
                )
                bar = "#" * max(1, round(40 * counts[label] / len(batch.profiles)))
                if zh:
                    print(f"  {name:<16} {counts[label]:>5}  {bar}", file=out)
                else:
                    print(f"  {label or '-':<16} {name:<22} {counts[label]:>5}  {bar}", file=out)
    if batch.rejected:
        print(f"\n{'未能读取的行' if zh else 'rejected rows'}: {len(batch.rejected)}", file=out)
        for r in batch.rejected:
            print(f"  row {r.row}: {r.reason}", file=out)
    _allocation(out, engine, batch, lang)
    _agenda(out, engine, customers, lang)
    _from_orders(out, lang)
    # explain the customers with the most flags and strategies: the interesting ones
    ranked = sorted(
        batch.profiles,
        key=lambda p: (-sum(len(d.flags) + (d.label is not None) for d in p.values()), p.customer_id or ""),
    )
    for profile in ranked[:explain]:
        print("\n" + "-" * 72, file=out)
        print(profile.explain(lang), file=out)


#: Scarce-stock weights per licence grade for the demo (suspended gets nothing).
DEMO_WEIGHTS = {"A5": 5, "A4": 4, "A3": 3, "A2": 2.5, "A1": 2, "A": 1.5, "B": 1, "C": 0.5, "suspended": 0}


def _allocation(out: TextIO, engine: Engine, batch: BatchResult, lang: str) -> None:
    zh = lang == "zh"
    graded = {
        p.customer_id: p["retail_license_grade"].label
        for p in batch.profiles
        if "retail_license_grade" in p and p["retail_license_grade"].label is not None
    }
    if not graded:
        return
    supply = 500
    alloc = allocate(supply, graded, DEMO_WEIGHTS, caps=20)
    title = (
        f"紧俏货源分配：{supply} 件，按许可证等级权重，每户上限 20 件"
        if zh
        else f"Scarce stock: {supply} units by licence-grade weight, at most 20 per retailer"
    )
    print(f"\n{title}", file=out)
    names = {lab.id: lab.zh for lab in engine.schemes["retail_license_grade"].policy.labels}
    for label, total in alloc.by_label.items():
        n = sum(1 for g in graded.values() if g == label)
        if zh:
            shown = names.get(label, label) if label is not None else "未分类"
            print(f"  {shown:<10} 权重 {DEMO_WEIGHTS.get(label or '', 0):<4} {n:>3} 户  {total:>4}", file=out)
            continue
        print(
            f"  {label:<10} {'权重' if zh else 'weight'} {DEMO_WEIGHTS.get(label or '', 0):<4} {n:>3} {'户' if zh else 'retailers'}  {total:>4}",
            file=out,
        )
    left = f"  未分配：{alloc.unallocated}" if zh else f"  unallocated: {alloc.unallocated}"
    print(left, file=out)


def _agenda(out: TextIO, engine: Engine, customers: list[Customer], lang: str) -> None:
    owners = Counter(c.owner for c in customers if c.owner)
    if not owners:
        return
    owner = owners.most_common(1)[0][0]
    agenda = engine.agenda(customers, as_of=SAMPLE_AS_OF, owner=owner)
    head = (
        f"客户经理 {owner} 今日日程（前 12 项，共 {len(agenda)} 项）"
        if lang == "zh"
        else (f"Today's agenda for account manager {owner} (first 12 of {len(agenda)})")
    )
    print(f"\n{head}", file=out)
    print(agenda.render(lang, limit=12), file=out)


def _from_orders(out: TextIO, lang: str) -> None:
    """Orders -> customers -> labels: the sample order log through
    customers_from_transactions and classify_frame."""
    from customer_rules.io.transactions import customers_from_transactions

    zh = lang == "zh"
    orders = sample_orders()
    built = customers_from_transactions(orders, as_of=SAMPLE_AS_OF)
    engine = Engine()
    engine.fit(built.customers, as_of=SAMPLE_AS_OF)
    labels = engine.classify_frame(built.customers, as_of=SAMPLE_AS_OF, rejected="ignore")
    head = (
        f"从订单日志分类：{built.rows} 行订单（{built.rejected.height} 行被拒）→ {built.customers.height} 位客户"
        if zh
        else f"From an order log: {built.rows} order lines ({built.rejected.height} rejected)"
        f" -> {built.customers.height} customers -> labels"
    )
    print(f"\n{head}", file=out)
    for r in built.rejected.iter_rows(named=True):
        where = f"第 {r['row']} 行被拒" if zh else f"rejected row {r['row']}"
        print(f"  {where}{'：' if zh else ': '}{r['reason_zh' if zh else 'reason']}", file=out)
    for sid, scheme in engine.schemes.items():
        column = labels.get_column(sid).cast(str)
        counts = Counter(v for v in column.to_list() if v is not None)
        if not counts:
            continue
        if zh:
            name = scheme.policy.name.zh if scheme.policy.name is not None else sid
            shown = "，".join(
                f"{scheme.policy.label(label).name('zh')} {counts[label]}" for label in scheme.labels if counts.get(label)
            )
            print(f"  {name}：{shown}", file=out)
        else:
            shown = ", ".join(f"{label} {counts[label]}" for label in scheme.labels if counts.get(label))
            print(f"  {sid:<16} {shown}", file=out)
