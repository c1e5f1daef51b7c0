"""Deterministic, realistic sample customers for docs, notebooks and tests.

Only :class:`random.Random` seeded by the caller is used: no wall clock, no
global random state, no numpy.  Every date is on or before
:data:`SAMPLE_AS_OF`.  The population is built so that every label of every
built-in scheme plausibly occurs (with the default ``n=300``): companies with
deals and leads, licensed retailers with compliance scores and deductions,
retail terminals with turnover and strength levels, and private persons with
complaint cases.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from customer_rules.model.records import Customer

__all__ = ["SAMPLE_AS_OF", "sample_customers", "sample_orders", "sample_records"]

SAMPLE_AS_OF = date(2026, 11, 22)
"""The reference date of the sample population."""

# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------

# fmt: off
_SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
    "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "高", "罗",
)
_GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
    "杰", "娟", "涛", "明", "超", "秀英", "华", "平", "刚", "桂英", "鑫",
    "宇", "浩", "婷", "欣", "晨", "建国", "志强", "海燕", "文博",
)
_FIRM_HEAD = (
    "华", "宏", "鑫", "恒", "盛", "兴", "永", "泰", "瑞", "金",
    "天", "新", "联", "达", "远", "嘉", "中", "信", "祥", "丰",
)
_FIRM_TAIL = (
    "强", "达", "通", "源", "利", "发", "业", "安", "辉", "博",
    "昌", "茂", "益", "隆", "和", "创", "海", "峰",
)
_PLACES = (
    "城东", "城西", "城南", "城北", "新村", "河畔", "东关", "西街", "南门",
    "北苑", "滨江", "湖滨", "站前", "文化路", "人民路", "解放路", "中山路",
    "建设路", "花园", "幸福里",
)
_PERSON_IDENTITIES = (
    "journalist", "lawyer", "taxi_driver", "celebrity", "official",
    "police", "government", "regulator", "consumer_association", "media",
)
# fmt: on
# (Chinese industry word, segment id)
_INDUSTRIES = (
    ("电子", "electronics"),
    ("物流", "logistics"),
    ("机械", "machinery"),
    ("科技", "software"),
    ("建材", "building_materials"),
    ("医药", "healthcare"),
    ("餐饮", "catering"),
    ("运输", "transport"),
    ("教育", "education"),
    ("传媒", "media"),
)
_FIRM_FORMS = ("", "有限公司", "集团", "股份有限公司", "贸易有限公司")
# (shop word, segment id)
_SHOPS = (
    ("烟酒店", "tobacco_liquor"),
    ("便利店", "convenience"),
    ("超市", "supermarket"),
    ("商行", "grocery"),
    ("副食店", "grocery"),
    ("食杂店", "grocery"),
)
_REGIONS = ("华东", "华南", "华北", "华中", "西南", "西北")
_OWNERS = ("李娜", "王磊", "陈静", "刘洋", "赵敏", "周杰")


_MINOR_REASONS = (
    ("未按规定明码标价", 1.0),
    ("许可证未悬挂在显眼位置", 1.0),
    ("进货台账记录不全", 2.0),
    ("店内陈列不规范", 2.0),
    ("未按时参加经营培训", 3.0),
)
_MEDIUM_REASONS = (
    ("向未成年人展示促销信息", 4.0),
    ("拒不配合例行检查", 5.0),
    ("经营地址变更未报备", 5.0),
    ("少量商品来源说明不清", 6.0),
)
_MAJOR_REASONS = (
    ("超出许可范围经营", 8.0),
    ("多次整改仍未达标", 10.0),
    ("转借许可证给他人使用", 10.0),
)
_SERIOUS_REASONS = (
    ("销售非法渠道商品,已立案调查", 20.0),
    ("销售假冒商品,已移送执法部门", 25.0),
)

_NOTES_VISIT = (
    "例行拜访,检查陈列",
    "到店了解库存和动销",
    "上门沟通新品",
    "现场处理订单问题",
    "陪同门店盘点",
    "走访了解经营困难",
)
_NOTES_CALL = (
    "电话回访满意度",
    "电话沟通报价",
    "确认到货时间",
    "跟进合同进度",
    "了解近期需求",
)
_NOTES_MESSAGE = ("发送产品资料", "微信发送报价单", "推送行业动态", "发送活动通知")
_NOTES_GREETING = ("生日祝福", "春节问候", "中秋问候", "国庆节问候")

_CASE_MINOR = (
    "座椅异响",
    "空调制冷效果差",
    "车窗密封条漏风",
    "服务人员态度冷淡",
    "保养项目解释不清",
    "洗车不干净",
)
_CASE_MAJOR = (
    "发动机故障灯反复亮起",
    "变速箱换挡顿挫明显",
    "电瓶频繁亏电",
    "转向助力异常",
)
_CASE_SAFETY = ("刹车失灵险些追尾", "行驶中突然熄火", "安全气囊故障灯常亮")

# Behaviour signals per nine_types label and per social_style label.
_NINE: dict[str, tuple[str, ...]] = {
    "rational": ("compares_on_merit", "principled", "unswayed_by_favours"),
    "task": ("delegated_task", "outside_own_duties", "good_enough_goal"),
    "greedy": ("asks_personal_benefit", "complex_position", "presses_price_hard"),
    "owner": ("price_first", "seeks_best_combination", "owner_mindset"),
    "credit_seeking": ("rising_career", "quality_first", "pays_out_of_pocket"),
    "stingy": ("squeezes_margin", "hides_facts", "sham_tenders"),
    "tricky": ("generous_opening", "leaves_paperwork_to_us", "false_urgency"),
    "relationship": ("prior_friendship", "expects_favours"),
}
_STYLES: dict[str, tuple[str, ...]] = {
    "analytical": ("wants_data", "digs_into_details", "challenging_questions"),
    "relationship": ("values_personal_trust", "wants_attention", "refers_others"),
    "dominant": ("decides_fast", "dislikes_small_talk", "wants_control"),
    "amiable": ("avoids_conflict", "passive", "hides_complaints"),
    "critical": ("high_standards", "spots_flaws", "criticises_bluntly"),
}
_NINE_NAMES = tuple(_NINE)
_ALL_SIGNALS = tuple(s for group in (*_NINE.values(), *_STYLES.values()) for s in group)

# One shuffled block of 20 customers: enough terminals for the default
# 20/20/30 terminal ranking and enough compliance-A retailers for 40 stars.
_KIND_BLOCK = ("company",) * 5 + ("retailer",) * 5 + ("terminal",) * 6 + ("person",) * 4

Dict = dict[str, Any]


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _days_ago(n: int) -> date:
    return SAMPLE_AS_OF - timedelta(days=n)


def _clamp(d: date) -> date:
    return min(d, SAMPLE_AS_OF)


def _maybe(rng: random.Random, value: Any, p_none: float = 0.1) -> Any:
    """``value``, or ``None`` (not observed) with probability ``p_none``."""
    return None if rng.random() < p_none else value


def _money(x: float) -> float:
    return float(round(x, 2))


def _drop_none(d: Dict) -> Dict:
    return {k: v for k, v in d.items() if v is not None}


def _person_name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN)


def _birthday(
    rng: random.Random, first_year: int = 1955, last_year: int = 2004
) -> date:
    return date(
        rng.randint(first_year, last_year), rng.randint(1, 12), rng.randint(1, 28)
    )


# --------------------------------------------------------------------------
# Behaviour
# --------------------------------------------------------------------------


def _behaviour(rng: random.Random, observed: float) -> Dict:
    if rng.random() >= observed:
        # Nothing recorded beyond, maybe, the two bird_style axes.
        if rng.random() < 0.4:
            return _drop_none(
                {
                    "speech_pace": _maybe(rng, rng.choice(("fast", "slow")), 0.3),
                    "sociability": _maybe(rng, rng.choice(("strong", "weak")), 0.3),
                }
            )
        return {}

    b: Dict = {}
    for name in _ALL_SIGNALS:
        if rng.random() < 0.4:
            continue  # not observed
        b[name] = 0 if rng.random() < 0.65 else 1

    def strong(signals: tuple[str, ...]) -> None:
        for i, s in enumerate(signals):
            # Keep the first signal always; the others may go unobserved.
            if i > 0 and rng.random() < 0.12:
                b.pop(s, None)
            else:
                b[s] = rng.choice((2, 3, 3))

    primary = rng.choices(
        (*_NINE_NAMES, "composite", "none"),
        weights=(14, 10, 6, 12, 8, 9, 5, 8, 7, 21),
    )[0]
    history: list[str] = []
    if primary == "composite":
        a, c = rng.sample(_NINE_NAMES, 2)
        if rng.random() < 0.5:
            strong(_NINE[a])  # two types with comparable strength
            strong(_NINE[c])
        else:
            strong(_NINE[a])  # currently a, recorded as c before
            history = [c, a] if rng.random() < 0.5 else [c]
        if rng.random() < 0.7:
            b["shifts_with_situation"] = rng.choice((2, 3))
    elif primary != "none":
        strong(_NINE[primary])
        if rng.random() < 0.3:
            history = [primary] * rng.randint(1, 2)
    if history:
        b["type_history"] = history

    # Role facts that go with some types.
    if primary == "owner":
        b["is_owner"], b["seniority"] = True, 3
    elif primary in ("task", "credit_seeking"):
        b["is_owner"], b["seniority"] = False, 1
    else:
        b["is_owner"] = _maybe(rng, rng.random() < 0.25, 0.4)
        b["seniority"] = _maybe(rng, rng.randint(1, 3), 0.4)
    if primary == "task":
        b["owner_mindset"] = 0
    if primary == "rational":
        b["expects_favours"] = 0

    style = rng.choices((*_STYLES, "none"), weights=(16, 15, 14, 14, 12, 29))[0]
    if style != "none":
        strong(_STYLES[style])
        if rng.random() < 0.1:  # occasionally a second comparable style
            strong(_STYLES[rng.choice([s for s in _STYLES if s != style])])

    b["speech_pace"] = _maybe(rng, rng.choice(("fast", "slow")), 0.12)
    b["sociability"] = _maybe(rng, rng.choice(("strong", "weak")), 0.12)
    b["observed_at"] = _days_ago(rng.randint(0, 240))
    return _drop_none(b)


# --------------------------------------------------------------------------
# Value
# --------------------------------------------------------------------------


def _quality(rng: random.Random, v: Dict) -> None:
    """Fill the customer_quality inputs on ``v`` (revenue already set)."""
    revenue: float = v.get("revenue_12m") or 0.0
    archetype = rng.choices(("good", "poor", "average"), weights=(30, 22, 48))[0]
    if archetype == "good":
        v.update(
            buying_desire=rng.choice((2, 3, 3)),
            price_sensitivity=rng.choice((0, 1, 1)),
            credit_rating=3,
            loyalty=rng.choice((2, 3, 3)),
            business_risk=rng.choice((0, 1)),
            prospects=rng.choice((2, 3)),
            constructive_requests=rng.random() < 0.7,
            demands_outside_strengths=False,
            overdue_amount=0.0,
            overdue_days=0,
            bad_debt=False,
            litigation=False,
            service_cost_12m=_money(revenue * rng.uniform(0.01, 0.06)),
            growth_rate=round(rng.uniform(0.0, 0.5), 3),
        )
    elif archetype == "poor":
        why = rng.choice(("costly", "debt", "outside", "debt", "costly"))
        v.update(
            buying_desire=rng.choice((0, 1, 2)),
            price_sensitivity=rng.choice((2, 3)),
            credit_rating=rng.choice((0, 1, 2)),
            loyalty=rng.choice((0, 1)),
            business_risk=rng.choice((1, 2, 3)),
            prospects=rng.choice((0, 1, 2)),
            constructive_requests=False,
            growth_rate=round(rng.uniform(-0.4, 0.1), 3),
        )
        if why == "costly":
            v.update(
                share_of_wallet=round(rng.uniform(0.03, 0.15), 3),
                service_cost_12m=_money(revenue * rng.uniform(0.35, 0.9)),
            )
        elif why == "debt":
            days = rng.randint(95, 420)
            v.update(
                overdue_days=days,
                overdue_amount=_money(revenue * rng.uniform(0.1, 0.5)),
                bad_debt=rng.random() < 0.4,
                litigation=rng.random() < 0.35,
            )
        else:
            v["demands_outside_strengths"] = True
    else:
        v.update(
            buying_desire=rng.randint(1, 2),
            price_sensitivity=rng.randint(1, 2),
            credit_rating=rng.randint(1, 3),
            loyalty=rng.randint(1, 2),
            business_risk=rng.randint(1, 2),
            prospects=rng.randint(1, 2),
            constructive_requests=_maybe(rng, rng.random() < 0.2, 0.3),
            demands_outside_strengths=_maybe(rng, False, 0.3),
        )
    v.setdefault("service_cost_12m", _money(revenue * rng.uniform(0.03, 0.2)))
    v.setdefault("share_of_wallet", round(rng.uniform(0.15, 0.9), 3))
    if "overdue_days" not in v:
        late = rng.random() < 0.3
        v["overdue_days"] = rng.randint(5, 60) if late else 0
        v["overdue_amount"] = _money(revenue * rng.uniform(0.01, 0.1)) if late else 0.0
    v.setdefault("bad_debt", False)
    v.setdefault("litigation", False)
    v.setdefault("growth_rate", round(rng.uniform(-0.2, 0.4), 3))


def _finish_value(rng: random.Random, v: Dict, margin: tuple[float, float]) -> Dict:
    revenue: float = v.get("revenue_12m") or 0.0
    cost: float = v.get("service_cost_12m") or 0.0
    profit = revenue * rng.uniform(*margin) - cost * 0.5
    v["profit_12m"] = _money(profit)
    years = rng.uniform(1.5, 8.0) * (1.0 + max(v.get("growth_rate") or 0.0, -0.5))
    v["lifetime_value"] = _money(max(profit, 0.0) * years)
    # Unknown is not zero: blank out a few figures.
    for key in (
        "profit_12m",
        "lifetime_value",
        "growth_rate",
        "share_of_wallet",
        "credit_rating",
        "prospects",
        "business_risk",
    ):
        if key in v and rng.random() < 0.07:
            del v[key]
    return _drop_none(v)


def _company_value(rng: random.Random, large: bool) -> Dict:
    revenue = rng.lognormvariate(13.0, 1.2)
    if large:
        revenue = max(revenue, 2_000_000.0) * rng.uniform(1.0, 3.0)
    v: Dict = {
        "revenue_12m": _money(revenue),
        "orders_12m": max(1, int(revenue / rng.uniform(8_000, 60_000))),
    }
    _quality(rng, v)
    if large:
        v["credit_terms_days"] = rng.choice((30, 45, 60))
        v["receivables"] = _money(revenue * rng.uniform(0.05, 0.15))
        v["discount_demands"] = rng.randint(0, 2)
        v["disrupts_market"] = False
        v["competitor_courting"] = rng.randint(0, 2)
        v["switching_cost"] = rng.randint(1, 3)
        v["could_integrate"] = False
        if rng.random() < 0.35:  # financial risk
            v["credit_terms_days"] = rng.choice((90, 120, 180))
            v["receivables"] = _money(revenue * rng.uniform(0.3, 0.6))
        if rng.random() < 0.3:  # profit risk
            v["discount_demands"] = 3
        if rng.random() < 0.15:  # management risk
            v["disrupts_market"] = True
        if rng.random() < 0.3:  # churn risk
            v["competitor_courting"] = 3
            v["switching_cost"] = rng.choice((0, 1))
            v["could_integrate"] = rng.random() < 0.5
    else:
        v["credit_terms_days"] = _maybe(rng, rng.choice((0, 15, 30, 45)), 0.3)
        v["receivables"] = _maybe(rng, _money(revenue * rng.uniform(0.0, 0.2)), 0.3)
        v["discount_demands"] = _maybe(rng, rng.randint(0, 3), 0.4)
        v["competitor_courting"] = _maybe(rng, rng.randint(0, 3), 0.5)
        v["switching_cost"] = _maybe(rng, rng.randint(0, 3), 0.5)
    return _finish_value(rng, v, (-0.05, 0.3))


def _retailer_value(rng: random.Random, business_score: float | None) -> Dict:
    boost = 1.0 if business_score is None else 0.5 + business_score / 100.0
    revenue = rng.lognormvariate(11.6, 0.7) * boost
    v: Dict = {
        "revenue_12m": _money(revenue),
        "orders_12m": rng.randint(20, 52),
        "price_sensitivity": _maybe(rng, rng.randint(0, 3), 0.3),
        "credit_rating": _maybe(rng, rng.randint(1, 3), 0.3),
        "loyalty": _maybe(rng, rng.randint(1, 3), 0.3),
        "overdue_amount": 0.0,
        "overdue_days": 0,
        "service_cost_12m": _money(revenue * rng.uniform(0.02, 0.12)),
    }
    return _finish_value(rng, v, (0.05, 0.15))


def _terminal_value(rng: random.Random) -> Dict:
    strength = rng.random()  # latent: bigger shops are also better run
    turnover = rng.lognormvariate(13.0 + 1.2 * strength, 0.45)

    def level() -> int:
        return max(0, min(3, round(strength * 3 + rng.uniform(-0.9, 0.9))))

    v: Dict = {
        "turnover": _money(turnover),
        "revenue_12m": _money(turnover * rng.uniform(0.15, 0.4)),
        "orders_12m": rng.randint(24, 104),
        "consumer_resources": _maybe(rng, level(), 0.08),
        "economic_strength": _maybe(rng, level(), 0.08),
        "operating_level": _maybe(rng, level(), 0.08),
        "price_sensitivity": _maybe(rng, rng.randint(0, 3), 0.4),
        "loyalty": _maybe(rng, rng.randint(1, 3), 0.4),
        "overdue_amount": 0.0,
        "overdue_days": 0,
    }
    if rng.random() < 0.05:
        v["turnover"] = None  # not yet surveyed
    v["service_cost_12m"] = _money((v["revenue_12m"] or 0.0) * rng.uniform(0.02, 0.1))
    return _finish_value(rng, v, (0.06, 0.14))


def _person_value(rng: random.Random) -> Dict:
    revenue = rng.lognormvariate(9.0, 1.0)
    v: Dict = {
        "revenue_12m": _money(revenue),
        "orders_12m": rng.randint(1, 8),
        "price_sensitivity": _maybe(rng, rng.randint(0, 3), 0.3),
        "loyalty": _maybe(rng, rng.randint(0, 3), 0.4),
        "buying_desire": _maybe(rng, rng.randint(0, 3), 0.5),
        "overdue_amount": 0.0,
        "overdue_days": 0,
        "service_cost_12m": _money(revenue * rng.uniform(0.02, 0.3)),
        "growth_rate": _maybe(rng, round(rng.uniform(-0.3, 0.5), 3), 0.5),
    }
    return _finish_value(rng, v, (0.05, 0.25))


# --------------------------------------------------------------------------
# Deal and lead
# --------------------------------------------------------------------------


def _deal(rng: random.Random, stage: str) -> Dict:
    """Milestones consistent in time for a target deal stage."""
    d: Dict = {}
    if stage == "never":
        return d
    if stage == "dormant":
        first = _days_ago(rng.randint(200, 900))
        d["first_contact_at"] = first
        d["last_contact_at"] = first + timedelta(days=rng.randint(0, 30))
        return d

    def back(x: date, lo: int, hi: int) -> date:
        return x - timedelta(days=rng.randint(lo, hi))

    if stage == "trial":
        start = _days_ago(rng.randint(1, 45))
        d["trial_started_at"] = start
        if rng.random() < 0.3:  # trial done, needs or price not yet confirmed
            d["trial_ended_at"] = _clamp(start + timedelta(days=rng.randint(7, 30)))
            d["needs_confirmed"] = rng.choice((True, False, None))
            d["price_confirmed"] = False
        anchor = start
    elif stage == "intent":
        end = _days_ago(rng.randint(0, 40))
        d["trial_ended_at"] = end
        d["trial_started_at"] = back(end, 7, 30)
        d["needs_confirmed"] = True
        d["price_confirmed"] = True
        d["terms_agreed"] = _maybe(rng, False, 0.5)
        anchor = d["trial_started_at"]
    else:  # quasi, formal
        if stage == "quasi":
            pay = _days_ago(rng.randint(0, 30))
        else:
            accepted = _days_ago(rng.randint(0, 900))
            d["accepted_at"] = accepted
            pay = back(accepted, 5, 60)
        d["first_payment_at"] = pay
        returned = back(pay, 1, 15)
        d["contract_sent_at"] = back(returned, 1, 10)
        if stage == "formal" or rng.random() < 0.8:
            d["contract_returned_at"] = returned
        d["terms_agreed"] = True
        d["needs_confirmed"] = True
        d["price_confirmed"] = True
        with_trial = rng.random() < 0.7
        anchor = d["contract_sent_at"]
        if with_trial:
            end = back(anchor, 2, 20)
            d["trial_ended_at"] = end
            d["trial_started_at"] = back(end, 7, 30)
            anchor = d["trial_started_at"]
    d["first_contact_at"] = back(anchor, 3, 60)
    return d


def _lost_deal(rng: random.Random) -> Dict:
    d = _deal(rng, rng.choice(("trial", "intent")))
    last = max(v for v in d.values() if isinstance(v, date))
    d["lost_at"] = _clamp(last + timedelta(days=rng.randint(1, 60)))
    return d


def _lead(rng: random.Random, grade: str) -> Dict:
    ld: Dict = {
        "has_need": True,
        "asks_details": _maybe(rng, rng.randint(0, 1), 0.3),
        "urgency": _maybe(rng, rng.randint(0, 1), 0.3),
        "needs_known": _maybe(rng, rng.random() < 0.3, 0.3),
        "contacts_known": _maybe(rng, rng.random() < 0.3, 0.3),
        "concerns_known": _maybe(rng, rng.random() < 0.3, 0.3),
        "budget_status": _maybe(rng, rng.choice(("approved", "pending", "none")), 0.4),
        "comparing_vendors": _maybe(rng, False, 0.4),
        "meticulous": _maybe(rng, rng.randint(0, 1), 0.4),
        "decision_factors": _maybe(rng, rng.randint(0, 1), 0.4),
        "raises_substitutes": _maybe(rng, False, 0.5),
        "haggling": _maybe(rng, rng.randint(0, 1), 0.4),
        "knows_margins": _maybe(rng, False, 0.5),
        "throwaway_contact": _maybe(rng, False, 0.3),
        "fishing_for_quote": _maybe(rng, False, 0.3),
    }
    if grade == "A":
        ld.update(
            asks_details=3,
            urgency=rng.choice((2, 3)),
            needs_known=True,
            contacts_known=True,
            concerns_known=True,
            budget_status=rng.choice(("approved", "approved", None)),
        )
    elif grade == "A_decoy":  # urgent but we know little: not an A lead
        ld.update(asks_details=3, urgency=3, needs_known=False, contacts_known=None)
    elif grade == "B1":
        ld.update(
            budget_status=rng.choice(("pending", "none")),
            comparing_vendors=rng.choice((True, True, None)),
            asks_details=rng.randint(1, 2),
        )
    elif grade == "B2":
        ld.update(
            meticulous=3, decision_factors=rng.choice((2, 3)), raises_substitutes=True
        )
    elif grade == "B3":
        ld.update(haggling=3, knows_margins=True)
    elif grade == "C":
        ld.update(
            has_need=None,
            throwaway_contact=rng.choice((True, None)),
            fishing_for_quote=True,
            asks_details=1,
        )
    elif grade == "D":
        ld.update(has_need=False, asks_details=0, urgency=0)
    return _drop_none(ld)


# --------------------------------------------------------------------------
# Compliance
# --------------------------------------------------------------------------


def _compliance(rng: random.Random) -> Dict:
    assessed = _days_ago(rng.randint(0, 7))
    grade = rng.choices(("A", "B", "C"), weights=(72, 19, 9))[0]
    if grade == "A":
        picks = [
            rng.choice(_MINOR_REASONS) for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3)))
        ]
    elif grade == "B":
        picks = [rng.choice(_MEDIUM_REASONS) for _ in range(rng.randint(2, 4))]
    else:
        picks = [
            rng.choice(_MEDIUM_REASONS + _MAJOR_REASONS)
            for _ in range(rng.randint(3, 5))
        ]
    deductions: list[Dict] = []
    for reason, points in picks:
        deductions.append(
            {
                "at": assessed - timedelta(days=rng.randint(0, 83)),
                "points": points,
                "reason": reason,
            }
        )
    if rng.random() < 0.07:
        reason, points = rng.choice(_SERIOUS_REASONS)
        at = assessed - timedelta(days=rng.randint(0, 60))
        ded: Dict = {"at": at, "points": points, "reason": reason, "serious": True}
        if rng.random() < 0.3:
            ded["resolved_at"] = _clamp(at + timedelta(days=rng.randint(5, 40)))
        deductions.append(ded)
    deductions.sort(key=lambda x: x["at"])
    total = sum(float(x["points"]) for x in deductions)
    c: Dict = {
        "score": max(0.0, 100.0 - total),
        "assessed_at": assessed,
        "deductions": deductions,
    }
    if rng.random() < 0.92:
        operating = round(rng.uniform(18.0, 60.0), 1)
        cooperation = round(rng.uniform(10.0, 40.0), 1)
        c.update(
            operating_score=operating,
            cooperation_score=cooperation,
            business_score=round(operating + cooperation, 1),
        )
    return c


# --------------------------------------------------------------------------
# Cases and satisfaction
# --------------------------------------------------------------------------


def _visits(rng: random.Random, start: date, end: date, k: int) -> list[date]:
    span = max((end - start).days, 0)
    return sorted(start + timedelta(days=rng.randint(0, span)) for _ in range(k))


def _case(rng: random.Random, cid: str, grade: str, overlay: str) -> Dict:
    """One complaint case shaped by a satisfaction grade and an overlay."""
    age = rng.randint(1, 150)
    opened = _days_ago(age)
    c: Dict = {
        "id": cid,
        "opened_at": opened,
        "quality_issue": rng.random() < 0.5,
        "summary": rng.choice(_CASE_MINOR),
        "damage_amount": _maybe(rng, _money(rng.uniform(0, 3_000)), 0.5),
        "solution_offered": True,
    }
    open_case = rng.random() < 0.25
    if grade == "D":
        reason = rng.choice(("price", "quality_once", "parts", "skill"))
        if reason == "price":
            c.update(price_opaque=True, summary="维修价格不透明")
        elif reason == "quality_once":
            c.update(quality_issue=True, repeat_complaint=False)
        elif reason == "parts":
            c.update(parts_wait_days=rng.randint(4, 15), summary="配件缺货等待")
        else:
            c.update(
                repair_days=rng.randint(8, 20),
                technician_skill_issue=True,
                summary="技师水平不足导致维修周期长",
            )
    elif grade == "E":
        reason = rng.choice(("hostile", "key_part", "repeat", "unresolved"))
        if reason == "hostile":
            c.update(hostile_tone=True, calmed=False, media_threat=True)
            if rng.random() < 0.4:
                c["legal_threat"] = True
        elif reason == "key_part":
            c.update(
                severity=rng.choice(("major", "key_part", "key_part")),
                quality_issue=True,
                summary=rng.choice(_CASE_MAJOR),
            )
        elif reason == "repeat":
            opened = _days_ago(rng.randint(5, 28))
            c.update(
                opened_at=opened,
                severity=rng.choice(("minor", "major")),
                quality_issue=True,
                repeat_complaint=True,
                summary=rng.choice(_CASE_MAJOR),
            )
            c["repair_visits"] = _visits(rng, opened, SAMPLE_AS_OF, rng.randint(2, 3))
        else:
            opened = _days_ago(rng.randint(21, 90))
            c.update(opened_at=opened, solution_offered=False)
            open_case = True
    if overlay == "F":
        c.update(
            rng.choice(
                (
                    {
                        "property_loss": True,
                        "damage_amount": _money(rng.uniform(20_000, 90_000)),
                    },
                    {"injury": True},
                    {"batch_issue": True},
                )
            )
        )
    elif overlay == "G":
        factors: tuple[Dict, ...] = (
            {
                "safety_related": True,
                "summary": rng.choice(_CASE_SAFETY),
                "severity": "key_part",
            },
            {"safety_related": True, "injury": rng.random() < 0.3},
            {
                "damage_amount": _money(rng.uniform(80_000, 600_000)),
                "property_loss": True,
            },
            {"customer_accepts_repairs": False, "quality_issue": True},
            {"police_involved": True, "hostile_tone": True},
            {"lawyer_involved": True, "legal_threat": True},
            {"legal_threat": True},
            {
                "media_involved": True,
                "media_threat": True,
                "exposed": rng.random() < 0.5,
            },
            {"consumer_association_involved": True},
            {"regulator_involved": True},
            {"government_involved": True},
            {"extreme_behaviour_risk": True, "hostile_tone": True, "calmed": False},
        )
        for factor in rng.sample(factors, rng.choice((1, 1, 2))):
            c.update(factor)
        if c.get("customer_accepts_repairs") is False:
            opened = _days_ago(rng.randint(10, 40))
            c["opened_at"] = opened
            c["repair_visits"] = _visits(rng, opened, SAMPLE_AS_OF, rng.randint(3, 4))
        open_case = open_case or rng.random() < 0.7
    opened = c["opened_at"]
    if not open_case:
        c["closed_at"] = _clamp(opened + timedelta(days=rng.randint(0, 25)))
    if c.get("quality_issue") and "repair_visits" not in c and rng.random() < 0.6:
        end = c.get("closed_at") or SAMPLE_AS_OF
        c["repair_visits"] = _visits(rng, opened, end, rng.randint(1, 2))
    if c.get("quality_issue") and "severity" not in c:
        c["severity"] = "minor"
    if "hostile_tone" not in c:
        c["hostile_tone"] = _maybe(rng, False, 0.4)
    return _drop_none(c)


def _satisfaction(rng: random.Random, grade: str) -> Dict:
    s: Dict = {"surveyed_at": _days_ago(rng.randint(0, 180))}
    if grade == "A":
        s.update(
            survey_score=5,
            loyal_evidence=True,
            exceeded_expectations=True,
            expectations_met=True,
            states_displeasure=False,
        )
    elif grade == "B":
        s.update(
            survey_score=4,
            expectations_met=True,
            states_displeasure=False,
            details_neglected=False,
        )
    elif grade == "C":
        s.update(survey_score=3, details_neglected=True, expectations_met=True)
    elif grade == "D":
        s.update(survey_score=2, states_displeasure=True, expectations_met=False)
    else:
        s.update(survey_score=1, states_displeasure=True, expectations_met=False)
    for key in list(s):
        if key != "surveyed_at" and rng.random() < 0.1:
            del s[key]
    return s


# --------------------------------------------------------------------------
# Interactions
# --------------------------------------------------------------------------


def _greeting_dates(rng: random.Random, birthday: date | None) -> list[date]:
    out = [date(2026, 2, 16), date(2026, 9, 25), date(2026, 10, 1)]
    if birthday is not None:
        this_year = date(SAMPLE_AS_OF.year, birthday.month, birthday.day)
        out.append(
            this_year
            if this_year <= SAMPLE_AS_OF
            else this_year.replace(year=SAMPLE_AS_OF.year - 1)
        )
    return [d for d in out if rng.random() < 0.35]


def _interactions(
    rng: random.Random,
    kind: str,
    start: date,
    end: date,
    count: int,
    birthday: date | None,
) -> list[Dict]:
    if count <= 0 or end < start:
        return []
    span = (end - start).days
    weights = {
        "company": (3, 5, 3),
        "retailer": (8, 2, 1),
        "terminal": (8, 2, 1),
        "person": (1, 5, 4),
    }[kind]
    out: list[Dict] = []
    dates = [start + timedelta(days=rng.randint(0, span)) for _ in range(count - 1)]
    dates.append(end)  # the most recent contact
    for d in dates:
        k = rng.choices(("visit", "call", "message"), weights=weights)[0]
        notes = {"visit": _NOTES_VISIT, "call": _NOTES_CALL, "message": _NOTES_MESSAGE}[
            k
        ]
        out.append({"at": d, "kind": k, "note": _maybe(rng, rng.choice(notes), 0.3)})
    for d in _greeting_dates(rng, birthday):
        if start <= d <= end:
            note = (
                "生日祝福"
                if birthday and (d.month, d.day) == (birthday.month, birthday.day)
                else rng.choice(_NOTES_GREETING[1:])
            )
            out.append({"at": d, "kind": "greeting", "note": note})
    out.sort(key=lambda x: x["at"])
    return [_drop_none(x) for x in out]


# --------------------------------------------------------------------------
# Customers by kind
# --------------------------------------------------------------------------


def _common(rng: random.Random, cid: str, kind: str) -> Dict:
    return {
        "id": cid,
        "kind": kind,
        "region": rng.choice(_REGIONS),
        "owner": _maybe(rng, rng.choice(_OWNERS), 0.03),
    }


def _complaints(rng: random.Random, c: Dict, p_cases: float, p_survey: float) -> None:
    """Cases and satisfaction sharing one target satisfaction grade."""
    grade = rng.choices(("A", "B", "C", "D", "E"), weights=(17, 27, 18, 19, 19))[0]
    has_cases = rng.random() < p_cases
    if has_cases:
        overlay = rng.choices(("", "F", "G"), weights=(68, 13, 19))[0]
        if "fleet" in c.get("identity", ()):
            overlay = "F"
        cases = []
        for j in range(rng.choices((1, 2, 3), weights=(70, 24, 6))[0]):
            case = _case(
                rng,
                f"{c['id']}-{j + 1}",
                grade if j == 0 else rng.choice("ABC"),
                overlay if j == 0 else "",
            )
            if overlay == "F" and "fleet" in c.get("identity", ()) and j == 0:
                case["batch_issue"] = True
            cases.append(case)
        c["cases"] = cases
    if has_cases or rng.random() < p_survey:
        c["satisfaction"] = _satisfaction(rng, grade)


def _company(rng: random.Random, cid: str) -> Dict:
    head, tail = rng.choice(_FIRM_HEAD), rng.choice(_FIRM_TAIL)
    industry, segment = rng.choice(_INDUSTRIES)
    large = rng.random() < 0.18
    c = _common(rng, cid, "company")
    c.update(
        name=head + tail + industry + rng.choice(_FIRM_FORMS),
        segment=segment,
        is_large_account=_maybe(rng, large, 0.05),
        birthday=_maybe(rng, _birthday(rng, 1960, 1995), 0.4),
        value=_company_value(rng, large),
        behaviour=_behaviour(rng, 0.85),
    )
    if segment in ("transport", "logistics") and rng.random() < 0.4:
        c["identity"] = ["fleet"]
    elif segment == "media" and rng.random() < 0.5:
        c["identity"] = ["media"]
    stage = rng.choices(
        ("never", "dormant", "trial", "intent", "quasi", "formal", "lost"),
        weights=(8, 10, 14, 14, 12, 34, 8),
    )[0]
    deal = _lost_deal(rng) if stage == "lost" else _deal(rng, stage)
    if stage != "formal" or rng.random() < 0.25:
        grade = rng.choices(
            ("A", "A_decoy", "B1", "B2", "B3", "C", "D", "none"),
            weights=(14, 5, 18, 12, 12, 12, 12, 15),
        )[0]
        if grade != "none":
            c["lead"] = _lead(rng, grade)
    if "first_contact_at" in deal and stage != "dormant":
        start: date = deal["first_contact_at"]
        last = max(v for v in deal.values() if isinstance(v, date))
        end = _clamp(max(last, _days_ago(rng.randint(0, 120))))
        inter = _interactions(
            rng, "company", start, end, rng.randint(1, 10), c.get("birthday")
        )
        c["interactions"] = inter
        deal["last_contact_at"] = max(x["at"] for x in inter)
    elif stage == "dormant":
        c["interactions"] = _interactions(
            rng,
            "company",
            deal["first_contact_at"],
            deal["last_contact_at"],
            rng.randint(1, 2),
            None,
        )
    c["deal"] = deal
    _complaints(rng, c, 0.22, 0.3)
    return c


def _shop_name(rng: random.Random) -> tuple[str, str]:
    shop, segment = rng.choice(_SHOPS)
    prefix = (
        rng.choice(_PLACES) if rng.random() < 0.65 else rng.choice(_SURNAMES) + "记"
    )
    return prefix + shop, segment


def _existing_customer_deal(rng: random.Random) -> Dict:
    accepted = _days_ago(rng.randint(60, 2500))
    return {
        "first_contact_at": accepted - timedelta(days=rng.randint(10, 90)),
        "accepted_at": accepted,
        "first_payment_at": accepted - timedelta(days=rng.randint(0, 7)),
        "terms_agreed": True,
    }


def _shop(rng: random.Random, cid: str, kind: str) -> Dict:
    name, segment = _shop_name(rng)
    c = _common(rng, cid, kind)
    c.update(
        name=name,
        segment=segment,
        birthday=_maybe(rng, _birthday(rng), 0.3),
        behaviour=_behaviour(rng, 0.55),
        deal=_existing_customer_deal(rng),
    )
    if kind == "retailer":
        comp = _compliance(rng)
        c["compliance"] = comp
        c["value"] = _retailer_value(rng, comp.get("business_score"))
    else:
        c["value"] = _terminal_value(rng)
    # Recent visits: the most recent one between today and ~2 months ago.
    end = _days_ago(rng.choice((0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 45, 60)))
    c["interactions"] = _interactions(
        rng, kind, _days_ago(180), end, rng.randint(2, 14), c.get("birthday")
    )
    c["deal"]["last_contact_at"] = max(x["at"] for x in c["interactions"])
    c["is_large_account"] = _maybe(rng, False, 0.5)
    _complaints(rng, c, 0.07, 0.15)
    return c


def _person(rng: random.Random, cid: str) -> Dict:
    c = _common(rng, cid, "person")
    c.update(
        name=_person_name(rng),
        segment=rng.choice(("consumer", "consumer", "vip_consumer")),
        birthday=_maybe(rng, _birthday(rng), 0.15),
        value=_person_value(rng),
        behaviour=_behaviour(rng, 0.6),
        is_large_account=False,
    )
    if rng.random() < 0.16:
        ids = [rng.choice(_PERSON_IDENTITIES)]
        if rng.random() < 0.1:
            ids.append(rng.choice([i for i in _PERSON_IDENTITIES if i != ids[0]]))
        c["identity"] = ids
    if rng.random() < 0.3:
        c["deal"] = _existing_customer_deal(rng)
    if rng.random() < 0.85:
        end = _days_ago(rng.randint(0, 200))
        c["interactions"] = _interactions(
            rng, "person", _days_ago(365), end, rng.randint(1, 6), c.get("birthday")
        )
    _complaints(rng, c, 0.7, 0.5)
    return c


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def _raw_customers(n: int, seed: int) -> list[Dict]:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    kinds: list[str] = []
    while len(kinds) < n:
        block = list(_KIND_BLOCK)
        rng.shuffle(block)
        kinds.extend(block)
    out: list[Dict] = []
    for i, kind in enumerate(kinds[:n]):
        cid = f"C{i + 1:04d}"
        if kind == "company":
            out.append(_company(rng, cid))
        elif kind == "person":
            out.append(_person(rng, cid))
        else:
            out.append(_shop(rng, cid, kind))
    return out


def sample_customers(n: int = 300, seed: int = 7) -> list[Customer]:
    """``n`` realistic, varied sample customers; the same for the same seed.

    Every date is on or before :data:`SAMPLE_AS_OF`; classify them with
    ``as_of=SAMPLE_AS_OF``.  Ids are ``C0001``, ``C0002``, ...
    """
    return [Customer.model_validate(d) for d in _raw_customers(n, seed)]


def sample_records(n: int = 300, seed: int = 7) -> list[dict[str, Any]]:
    """The sample customers as JSON-ready dicts (``model_dump(mode="json")``)."""
    return [c.model_dump(mode="json") for c in sample_customers(n, seed)]


# --------------------------------------------------------------------------
# A sample order log (for customers_from_transactions)
# --------------------------------------------------------------------------

# buyer habits: (share of customers, mean days between orders, span of activity
# in days back from SAMPLE_AS_OF as (first order, last order), mean order value)
_HABITS = (
    (0.15, 20, (900, 0), 900.0),  # loyal regulars, still buying
    (0.15, 45, (700, 0), 350.0),  # occasional, still buying
    (0.15, 40, (60, 0), 250.0),  # new this quarter
    (0.20, 60, (1000, 400), 300.0),  # lapsed: stopped over a year ago
    (0.15, 30, (800, 150), 600.0),  # drifting away: nothing for months
    (0.20, 10_000, (1000, 0), 200.0),  # one purchase, some time in the last years
)


def sample_orders(n: int = 200, seed: int = 7) -> Any:
    """A deterministic order log of ``n`` customers (a polars DataFrame) for
    :func:`~customer_rules.customers_from_transactions`, as of
    :data:`SAMPLE_AS_OF`.

    One row per order line: ``customer_id`` (``S0001``, ...), ``order_id``,
    ``at`` (a date), ``amount`` (the line's value), ``cost`` and ``status``
    (``paid``; about 3% ``returned`` — a refund of an earlier line — and 2%
    ``cancelled``). Buyers follow a few habits (regulars, occasional, new,
    lapsed, drifting away, one-off), so recency, frequency and value vary.
    Three lines are bad on purpose (a negative amount, a date after
    ``SAMPLE_AS_OF``, no customer id): they show up among the rejected
    lines.
    """
    import polars as pl

    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    weights = [h[0] for h in _HABITS]
    order_no = 0
    for i in range(1, n + 1):
        cid = f"S{i:04d}"
        _, gap, (start, end), mean = rng.choices(_HABITS, weights)[0]
        day = rng.randint(end, start)
        spend = mean * rng.lognormvariate(0, 0.5)
        margin = rng.uniform(0.15, 0.45)
        while day >= end:
            order_no += 1
            for _line in range(rng.randint(1, 3)):
                amount = _money(spend * rng.uniform(0.2, 0.8))
                status = rng.choices(("paid", "returned", "cancelled"), (0.95, 0.03, 0.02))[0]
                rows.append(
                    {
                        "customer_id": cid,
                        "order_id": f"O{order_no:06d}",
                        "at": _days_ago(day),
                        "amount": amount,
                        "cost": _money(amount * (1 - margin)),
                        "status": status,
                    }
                )
            day -= max(1, round(rng.expovariate(1 / gap)))
    bad: tuple[dict[str, Any], ...] = (
        {"customer_id": "S0001", "amount": -25.0},  # a negative amount
        {"customer_id": "S0002", "at": SAMPLE_AS_OF + timedelta(days=3)},  # after as_of
        {"customer_id": None},  # no customer id
    )
    for k, change in enumerate(bad):
        order_no += 1
        line: dict[str, Any] = {
            "customer_id": "S0003",
            "order_id": f"O{order_no:06d}",
            "at": _days_ago(10 + k),
            "amount": 49.0,
            "cost": 30.0,
            "status": "paid",
        }
        rows.append({**line, **change})
    schema = {
        "customer_id": pl.String,
        "order_id": pl.String,
        "at": pl.Date,
        "amount": pl.Float64,
        "cost": pl.Float64,
        "status": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)
