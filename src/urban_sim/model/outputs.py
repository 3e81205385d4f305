"""The declared output catalogue: every output of the model, declared once.

Each output has a name (the ``indicator`` column of the long timeseries), a unit, a kind
(``stock``, ``flow``, ``share`` or ``target`` indicator), the place levels it is reported at, a
direction (which way is better, where that is meaningful) and labels in English and Chinese. The
model collects its outputs under these names, and analysis and reports read units, labels and
directions from here; nothing parses a name back into its parts (EMA Workbench
``em_framework/outcomes.py`` is the pattern).

Usage::

    from urban_sim.model.outputs import OUTPUTS, label, unit, unit_label
    OUTPUTS["urbanization_rate"].kind        # 'share'
    label("seat_water_coverage", "zh")       # '县城公共供水普及率'
    unit_label("investment_total", "en")     # 'million yuan'
    investment_in("ecology")                 # 'investment_ecology'

To add an output: add one :func:`declare` call below (or to a family loop) and collect it in
the model under that name; ``tests/test_outputs.py`` checks that every collected name is declared
and every declared model output is collected. Chinese labels of target indicators follow the
plan's wording (``wording_zh`` of ``data/lin_county/plan_targets.csv``, without the target value).
"""

from __future__ import annotations

from dataclasses import dataclass

from urban_sim.config.schema import TASK_AREAS
from urban_sim.errors import did_you_mean
from urban_sim.population.state import SECTORS
from urban_sim.targets import RATIO_PARTS

KINDS = ("stock", "flow", "share", "target")
"""Kinds of output: a level at the end of the year (``stock``), an amount during the year
(``flow``), a ratio or rate of two stocks (``share``), an indicator the plan sets a target for
(``target``)."""

PLACE_LEVELS = ("county", "zone", "township")
"""Place levels: ``county`` (place ``county``), ``zone`` (places ``county_seat``, ``towns``,
``villages``, ``outside``) and ``township`` (one place per township, named in Chinese)."""

ZONES = ("county_seat", "towns", "villages", "outside")
"""The places of the ``zone`` level."""

LANGS = ("en", "zh")

UNITS: dict[str, tuple[str, str]] = {
    "persons": ("persons", "人"),
    "households": ("households", "户"),
    "persons_per_household": ("persons per household", "人/户"),
    "persons_per_year": ("persons per year", "人/年"),
    "jobs": ("jobs", "个岗位"),
    "million_yuan": ("million yuan", "百万元"),
    "million_yuan_per_year": ("million yuan per year", "百万元/年"),
    "share": ("%", "%"),
    "count": ("count", "个"),
    "km_per_km2": ("km/km²", "公里/平方公里"),
    "ratio": ("ratio", "比值"),
    "seats_per_pupil": ("seats per pupil", "学位/学生"),
    "per_1000_residents": ("per 1,000 residents", "每千人"),
    "per_1000_aged_60_plus": ("per 1,000 aged 60+", "每千名60岁以上老人"),
    "flag": ("yes/no", "是/否"),
    "m2_per_resident": ("m² per resident", "平方米/人"),
    "index": ("index 0-1", "指数(0-1)"),
}
"""Unit code → (English label, Chinese label). Shares are stored as fractions 0–1 and shown as %."""

PLACE_LABELS: dict[str, tuple[str, str]] = {
    "county": ("county", "全县"),
    "county_seat": ("county seat", "县城"),
    "towns": ("other towns", "其他镇区"),
    "villages": ("villages", "乡村"),
    "outside": ("outside the county", "县外"),
}
"""Place → (English, Chinese). Township places carry their Chinese name as the place itself."""

TASK_AREA_LABELS: dict[str, tuple[str, str]] = {
    "industry": ("Industry", "产业发展"),
    "infrastructure": ("Infrastructure", "基础设施"),
    "ecology": ("Ecology", "生态保护"),
    "public_services": ("Public services", "公共服务"),
    "living_environment": ("Living environment", "人居环境"),
    "heritage": ("Heritage", "文化传承"),
    "governance": ("Governance", "社会治理"),
    "institutions": ("Institutions", "体制机制"),
}
"""Task area → (English, Chinese), the plan's eight task areas in plan order."""

SECTOR_LABELS: dict[str, tuple[str, str]] = {
    "agriculture": ("agriculture", "农业"), "industry": ("industry", "工业"),
    "construction": ("construction", "建筑业"), "services": ("services", "服务业"),
    "tourism": ("tourism", "旅游业"), "public": ("public sector", "公共部门"),
}


@dataclass(frozen=True)
class Output:
    """One declared model output.

    Attributes
    ----------
    name : str
        Value of the ``indicator`` column.
    unit : str
        Unit code, a key of :data:`UNITS`.
    kind : str
        One of :data:`KINDS`.
    places : tuple of str
        Place levels (:data:`PLACE_LEVELS`) the output is reported at.
    direction : str or None
        ``"higher"`` or ``"lower"`` is better; None where neither is (population counts).
    en, zh : str
        Labels in English and Chinese (the plan's wording for target indicators).
    task_area : str or None
        Task area of a target indicator or of a per-area output.
    """

    name: str
    unit: str
    kind: str
    places: tuple[str, ...]
    direction: str | None
    en: str
    zh: str
    task_area: str | None = None

    def label(self, lang: str = "en") -> str:
        """The label in ``lang`` (``en`` or ``zh``)."""
        return self.zh if _lang(lang) == "zh" else self.en


OUTPUTS: dict[str, Output] = {}
"""Every declared output by name, in collection order."""


def declare(name: str, unit: str, kind: str, en: str, zh: str, *, places: tuple[str, ...] = ("county",),
            direction: str | None = None, task_area: str | None = None) -> Output:
    """Declare one output and return it.

    Raises
    ------
    ValueError
        If ``name`` is declared twice or a unit, kind, place level, direction or task area is
        not one of the allowed values.
    """
    if name in OUTPUTS:
        raise ValueError(f"output {name!r} declared twice")
    for value, allowed, what in ((unit, UNITS, "unit"), (kind, KINDS, "kind"),
                                 (direction, ("higher", "lower", None), "direction"),
                                 (task_area, (*TASK_AREAS, None), "task_area")):
        if value not in allowed:
            raise ValueError(f"output {name!r}: {what} {value!r} not one of {list(allowed)}")
    for p in places:
        if p not in PLACE_LEVELS:
            raise ValueError(f"output {name!r}: place level {p!r} not one of {list(PLACE_LEVELS)}")
    OUTPUTS[name] = out = Output(name, unit, kind, tuple(places), direction, en, zh, task_area)
    return out


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {list(LANGS)}, got {lang!r}")
    return lang


def output(name: str) -> Output:
    """The declared output ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not declared (the message names the nearest declared output).
    """
    try:
        return OUTPUTS[name]
    except KeyError:
        raise KeyError(f"no declared output {name!r}{did_you_mean(name, OUTPUTS)}") from None


def label(name: str, lang: str = "en") -> str:
    """Label of an output, a place, a task area or a sector in ``lang``; ``name`` itself when it
    is none of these (e.g. a township's Chinese name)."""
    i = 1 if _lang(lang) == "zh" else 0
    if name in OUTPUTS:
        return OUTPUTS[name].label(lang)
    for table in (PLACE_LABELS, TASK_AREA_LABELS, SECTOR_LABELS):
        if name in table:
            return table[name][i]
    return name


def unit(name: str) -> str:
    """Unit code of output ``name`` (a key of :data:`UNITS`)."""
    return output(name).unit


def unit_label(name: str, lang: str = "en") -> str:
    """Unit of output ``name`` as shown to a reader in ``lang``."""
    return UNITS[unit(name)][1 if _lang(lang) == "zh" else 0]


def names(*, kind: str | None = None, place: str | None = None) -> list[str]:
    """Declared output names, optionally only those of one kind and/or place level."""
    return [o.name for o in OUTPUTS.values()
            if (kind is None or o.kind == kind) and (place is None or place in o.places)]


def jobs_in(sector: str) -> str:
    """Output name of the jobs in ``sector`` (one of ``SECTORS``)."""
    return f"jobs_{sector}"


def jobs_created_in(area: str) -> str:
    """Output name of the jobs attributable to investment in task area ``area``."""
    return f"jobs_created_{area}"


def investment_in(area: str) -> str:
    """Output name of the investment in task area ``area`` during the year."""
    return f"investment_{area}"


# ---------------------------------------------------------------------------------- population
_ALL = ("county", "zone", "township")
declare("resident_population", "persons", "stock", "Resident population", "常住人口", places=_ALL)
declare("registered_population", "persons", "stock", "Registered population", "户籍人口")
declare("outside_population", "persons", "stock", "Registered residents living outside the county",
        "县外常住的户籍人口")
declare("urban_population", "persons", "stock", "Urban population", "城镇人口")
declare("urbanization_rate", "share", "share", "Urbanization rate", "常住人口城镇化率")
declare("county_seat_population", "persons", "stock", "County-seat population", "县城常住人口")
declare("households", "households", "stock", "Households", "户数")
declare("mean_household_size", "persons_per_household", "share", "Mean household size", "平均户规模",
        places=("county", "township"))
declare("share_age_0_14", "share", "share", "Share aged 0-14", "0-14岁人口占比")
declare("share_age_60_plus", "share", "share", "Share aged 60+", "60岁及以上人口占比",
        places=("county", "township"))
# ---------------------------------------------------------------------------------- flows
FLOWS = ("births", "births_outside", "deaths", "moves_village_to_seat", "moves_village_to_town",
         "moves_to_outside", "returns", "new_county_seat_residents")
"""Outputs counted during the year (persons per year, full-population scale), in collection order."""
for _name, _en, _zh in zip(FLOWS, (
        "Births to mothers living in the county", "Births to registered mothers living outside",
        "Deaths", "Moves from villages to the county seat", "Moves from villages to towns",
        "Moves out of the county", "Returns from outside", "New county-seat residents"), (
        "出生（县内常住母亲）", "出生（县外常住的户籍母亲）", "死亡", "乡村迁入县城", "乡村迁入镇区", "迁出县外", "返乡", "县城新增常住人口"), strict=True):
    declare(_name, "persons_per_year", "flow", _en, _zh)
declare("return_rate", "share", "share",
        "Return rate (returns per registered member outside, per year)", "返乡率（每年返乡人数/县外户籍人口）")
# ---------------------------------------------------------------------------------- jobs
declare("jobs_total", "jobs", "stock", "Jobs", "就业岗位", direction="higher")
declare("jobs_nonfarm", "jobs", "stock", "Non-farm jobs", "非农就业岗位", direction="higher")
for _s in SECTORS:
    declare(jobs_in(_s), "jobs", "stock", f"Jobs in {SECTOR_LABELS[_s][0]}",
            f"{SECTOR_LABELS[_s][1]}就业岗位")
declare("farm_workers", "persons", "stock", "Farm workers", "务农人员")
declare("unemployment_rate", "share", "share", "Unemployment rate (census definition)", "失业率（普查口径）",
        direction="lower")
declare("wage_job_shortfall_rate", "share", "share",
        "Non-farm job seekers without a wage job (informal work included)", "未获工资性岗位的非农求职者占比",
        direction="lower")
for _a in TASK_AREAS:
    _en, _zh = TASK_AREA_LABELS[_a]
    declare(jobs_created_in(_a), "jobs", "stock", f"Jobs created by investment: {_en.lower()}",
            f"{_zh}投资带动就业", task_area=_a)
    declare(investment_in(_a), "million_yuan_per_year", "flow", f"Investment: {_en.lower()}",
            f"{_zh}投资", task_area=_a)
declare("investment_total", "million_yuan_per_year", "flow", "Investment", "投资总额")
declare("investment_unspent", "million_yuan_per_year", "flow",
        "Investment budget not spent (carried over to the next year)", "未支出预算（结转下年）")
# ---------------------------------------------------------------------------------- services
declare("school_seats_per_pupil", "seats_per_pupil", "share", "School seats per pupil", "每名学生学位数",
        direction="higher")
declare("hospital_beds_per_1000", "per_1000_residents", "share", "Hospital beds per 1,000 residents",
        "每千人医疗床位数", direction="higher")
declare("elderly_beds_per_1000_60plus", "per_1000_aged_60_plus", "share",
        "Elderly-care beds per 1,000 aged 60+", "每千名老年人养老床位数", direction="higher")
declare("childcare_places_per_1000", "per_1000_residents", "share", "Childcare places per 1,000 residents",
        "每千人托位数", direction="higher")
declare("childcare_demand", "persons", "stock",
        "Childcare places sought (children aged 0-3 x take-up share)", "托育需求(0-3岁儿童×入托意愿)",
        task_area="public_services")
# ------------------------------------- environment parts (plan tasks 7, 9, 10, 12, 13, 14; issue 11)
for _name, _area, _en, _zh in (
        ("flood_safety", "infrastructure", "Flood safety and sponge drainage index (task 7)", "防洪排涝安全指数"),
        ("ecological_restoration_index", "ecology", "Ecological restoration index (task 9)", "生态修复指数"),
        ("pollution_control_index", "ecology", "Pollution control index: air, water, soil (task 10)",
         "环境污染防治指数"),
        ("waste_treatment_index", "ecology", "Solid-waste collection and treatment index (task 12)",
         "垃圾收运处理指数"),
        ("clean_heating_share", "ecology", "Clean winter heating index (task 13)", "清洁取暖指数"),
        ("green_transport_index", "ecology", "Green transport index, county seat (task 14)", "绿色交通指数"),
        ("environment_index", "ecology", "Environment in amenity: weighted parts, county seat",
         "人居环境质量综合指数(县城)")):
    declare(_name, "index", "stock", _en, _zh, direction="higher", task_area=_area)
# ---------------------------------------------------------------------------------- plan targets
# (name, unit, direction, task area, English, Chinese in the plan's wording), in collection order
_TARGETS = (
    ("logistics_coverage", "share", "higher", "industry", "County logistics centre coverage",
     "县域区域性物流集散中心覆盖率"),
    ("lifeline_monitoring_coverage", "share", "higher", "infrastructure",
     "Digital monitoring of urban lifelines", "城市生命线数字化监测覆盖率"),
    ("self_built_housing_rectified", "share", "higher", "infrastructure",
     "Self-built housing safety rectification", "自建房安全专项整治完成率"),
    ("reclaimed_water_rate", "share", "higher", "ecology", "Reclaimed water use rate", "再生水利用率"),
    ("green_building_share", "share", "higher", "ecology", "Green buildings in new urban buildings",
     "绿色建筑占城镇新建建筑比例"),
    ("prefab_building_share", "share", "higher", "ecology", "Prefabricated buildings in new urban buildings",
     "装配式建筑占城镇新建建筑比例"),
    ("vocational_compliance", "share", "higher", "public_services",
     "County vocational schools meeting standards", "县属中等职业学校办学条件达标率"),
    ("coverage_5g", "share", "higher", "governance", "5G coverage of the county", "县域5G网络覆盖率"),
    ("idle_land_cleared", "share", "higher", "institutions", "Approved-unsupplied and idle land cleared",
     "批而未供和闲置土地清理完成率"),
    ("water_leakage_rate", "share", "lower", "infrastructure", "Water network leakage rate",
     "公共供水管网漏损率"),
    ("historic_vacancy_rate", "share", "lower", "heritage", "Vacancy of public historic buildings",
     "公有产权历史建筑空置率"),
    ("commercial_streets", "count", "higher", "industry", "Distinctive commercial streets", "特色商业街区"),
    ("good_hospitals", "count", "higher", "public_services", "County hospitals at the national standard",
     "县级综合医院达到国家推荐标准数"),
    ("rural_scale_water_share", "share", "higher", "infrastructure",
     "Rural population served by large-scale water supply", "农村规模化供水工程覆盖农村人口比例"),
    ("rural_tap_water_rate", "share", "higher", "infrastructure", "Rural tap-water coverage", "自来水普及率(农村)"),
    ("seat_water_coverage", "share", "higher", "infrastructure", "County-seat public water supply coverage",
     "县城公共供水普及率"),
    ("rural_sewage_treatment_rate", "share", "higher", "infrastructure", "Rural sewage treatment rate",
     "农村生活污水治理率"),
    ("special_ed_enrollment", "share", "higher", "public_services",
     "Compulsory-school enrolment of disabled children", "适龄残疾儿童义务教育入学率"),
    ("town_sewage_coverage", "share", "higher", "living_environment",
     "Sewage treatment in towns of 2,000+ residents", "镇区常住人口2000人以上的小城镇生活污水处理设施覆盖率"),
    ("township_grade3_road_share", "share", "higher", "infrastructure",
     "Townships reached by grade-3 or better roads", "乡镇全部通三级及以上公路(比例)"),
    ("road_network_density", "km_per_km2", "higher", "infrastructure", "County-seat road network density",
     "县城建成区道路网密度"),
    ("parking_ratio", "ratio", None, "infrastructure", "Parking spaces per motor vehicle",
     "机动车停车位供给总量与保有量之比"),
    ("nursing_bed_share", "share", "higher", "public_services", "Nursing beds in public care homes",
     "公办养老机构护理型床位占比"),
    ("village_elderly_facility_coverage", "share", "higher", "public_services",
     "Elderly-care facilities in villages", "村(社区)养老服务设施覆盖率"),
    ("inclusive_childcare_share", "share", "higher", "public_services", "Inclusive childcare places",
     "普惠托位占比"),
    # dated targets added from the plan text (issue 11)
    ("village_delivery_coverage", "share", "higher", "industry", "Villages with express delivery",
     "农村寄递物流网络覆盖率"),
    ("cold_chain_coverage", "share", "higher", "industry", "Cold-chain network coverage",
     "冷链物流干支配网络覆盖率"),
    ("municipal_safety_survey_done", "share", "higher", "infrastructure",
     "Municipal-infrastructure safety survey completed", "市政基础设施安全普查完成率"),
    ("seat_old_mains_renewed", "share", "higher", "infrastructure", "Old county-seat water mains renewed",
     "县城供水老旧管网改造完成率"),
    ("water_source_class3_share", "share", "higher", "infrastructure",
     "Drinking-water sources at class III or better", "集中式饮用水水源水质达到或优于Ⅲ类比例"),
    ("water_source_zones_delineated", "share", "higher", "infrastructure",
     "Protection zones delineated for schemes serving 1,000+", "千人以上供水工程水源保护区划定完成率"),
    ("scenic_mining_road_coverage", "share", "higher", "infrastructure",
     "3A+ scenic spots and mining nodes reached by main roads", "3A级及以上旅游景区和矿产资源节点公路覆盖率"),
    ("village_waste_sorting_share", "share", "higher", "ecology", "Villages sorting garbage (four-way)",
     "行政村推行农村生活垃圾“四分法”比例"),
    ("online_employment_service_coverage", "share", "higher", "public_services",
     "Residents reached by online employment services", "网上就业服务覆盖率"),
    ("heritage_plans_done", "share", "higher", "heritage", "Statutory heritage plans compiled",
     "法定保护规划编制完成率"),
    ("good_high_schools", "count", "higher", "public_services", "Good public high schools",
     "公办普通高中(办好)"),
    ("enforcement_pilot_townships", "count", None, "governance",
     "Pilot townships for integrated enforcement", "基层综合执法规范化试点乡镇"),
    ("town_sewage_started", "count", "higher", "infrastructure", "Town sewage plants built or started",
     "建制镇污水处理设施(已建成或启动)"),
    ("township_commerce_centre_share", "share", "higher", "industry", "Townships with a commerce centre",
     "乡镇有商贸中心比例"),
    # the 2025 aim: infrastructure and public services at the Lüliang average (luliang.py)
    ("school_seats_vs_luliang", "ratio", "higher", "public_services",
     "School seats per pupil vs the Lüliang average", "公共服务设施:义务教育学位与吕梁平均之比"),
    ("hospital_beds_vs_luliang", "ratio", "higher", "public_services",
     "Hospital beds per 1,000 vs the Lüliang average", "公共服务设施:每千人床位与吕梁平均之比"),
    ("care_beds_vs_luliang", "ratio", "higher", "public_services",
     "Care beds per 1,000 aged 60+ vs the Lüliang average", "公共服务设施:每千名老人养老床位与吕梁平均之比"),
    ("seat_water_vs_luliang", "ratio", "higher", "infrastructure",
     "County-seat water coverage vs the Lüliang average", "基础设施:县城供水普及率与吕梁平均之比"),
    ("seat_roads_vs_luliang", "ratio", "higher", "infrastructure",
     "County-seat road density vs the Lüliang average", "基础设施:县城道路网密度与吕梁平均之比"),
    ("parks_vs_luliang", "ratio", "higher", "living_environment",
     "Park area per resident vs the Lüliang average", "基础设施:人均公园面积与吕梁平均之比"),
)
for _name, _unit, _dir, _area, _en, _zh in _TARGETS:
    declare(_name, _unit, "target", _en, _zh, direction=_dir, task_area=_area)
# ------------------------------------------------- honest targets: uncapped ratios and their change
# (targets.RatioDecomposition; change since the year before the policy starts)
for _name, _unit, _dir, _area, _en, _zh in _TARGETS:
    if _name in RATIO_PARTS:
        declare(f"{_name}_uncapped", "ratio", "share", f"{_en} (uncapped ratio)", f"{_zh}(未封顶比值)",
                direction=_dir, task_area=_area)
        declare(f"{_name}_investment_effect", "ratio", "share",
                f"{_en}: change from capacity at fixed population", f"{_zh}:投资效应(人口不变)",
                direction=_dir, task_area=_area)
        declare(f"{_name}_population_effect", "ratio", "share",
                f"{_en}: change from population at new capacity", f"{_zh}:人口效应",
                task_area=_area)
declare("park_area_per_resident_m2", "m2_per_resident", "stock",
        "Park area per county-seat resident (public-space index x m2 per index)", "县城人均公园面积",
        direction="higher", task_area="living_environment")
# ------------------------------------------------------ relocation (task 9) and financing (task 36)
declare("relocated_persons", "persons_per_year", "flow", "Persons relocated from hazard and remote villages",
        "异地避险安置和易地搬迁人口", task_area="ecology")
declare("relocated_households", "households", "flow", "Households relocated this year", "搬迁户数",
        task_area="ecology")
for _name, _en, _zh in (
        ("investment_requested", "Investment requested by the scenario", "计划投资"),
        ("own_funds", "Own funds and transfers available", "自有财力和上级转移支付"),
        ("land_revenue", "Land-transfer revenue from new county-seat dwellings", "土地出让收入"),
        ("bond_issuance", "Special bonds issued", "专项债券发行"),
        ("debt_service", "Debt service (interest and principal)", "还本付息"),
        ("investment_unfinanced", "Requested investment that could not be financed", "资金缺口")):
    declare(_name, "million_yuan_per_year", "flow", _en, _zh, task_area="institutions")
declare("debt_outstanding", "million_yuan", "stock", "Outstanding special-bond debt", "专项债务余额",
        direction="lower", task_area="institutions")
# ---------------------------------------------------------------------------------- by place only
declare("employment_chance", "share", "share", "Chance of finding a non-farm job", "非农就业机会",
        places=("zone",), direction="higher")
declare("empty", "flag", "stock", "Place emptied", "无人居住", places=("township",))

del _name, _en, _zh, _s, _a, _unit, _dir, _area

__all__ = [
    "FLOWS", "KINDS", "LANGS", "OUTPUTS", "Output", "PLACE_LABELS", "PLACE_LEVELS", "SECTOR_LABELS",
    "TASK_AREA_LABELS", "UNITS", "ZONES", "declare", "investment_in", "jobs_created_in", "jobs_in",
    "label", "names", "output", "unit", "unit_label",
]
