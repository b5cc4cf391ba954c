"""Question topics and the attribute keys that answer them ("防雨吗" is about 防水 or 面料)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """Words that ask about a topic, the keys that hold it, and keys that may mention it."""

    words: re.Pattern[str]
    keys: tuple[str, ...]
    # Keys whose value answers only if it mentions the topic (a 面料 that states 防水).
    maybe: tuple[str, ...] = ()
    # The value lists what exists (colours, sizes): "有粉色吗" is answered only if it lists 粉.
    exact: bool = False

    def mentioned_in(self, value: str) -> bool:
        return bool(self.words.search(value.casefold()))


def _t(
    words: str, keys: tuple[str, ...], maybe: tuple[str, ...] = (), *, exact: bool = False
) -> Topic:
    return Topic(re.compile(words), keys, maybe, exact)


# What a line asks to exist: a colour ("粉色"), a size or amount ("XL", "2.2m", "50ml").
_ASKED = re.compile(
    r"([黑白红蓝绿粉灰紫黄棕橙金银米咖])色|(?<![a-z\d.])(\d+(?:\.\d+)?)\s*(?:码|cm|mm|m|ml|l|g|kg|片|寸)"
    r"|(?<![a-z'])(x{0,3}[sml]|x{1,3}l)(?![a-z'])"
)


def asked_values(text: str) -> list[str]:
    """The colours and sizes a line asks about, each as the piece a listing value must hold."""
    return [next(g for g in m.groups() if g) for m in _ASKED.finditer(text)]


TOPICS: list[Topic] = [
    _t(
        r"尺寸|尺码|多大|大小|哪个(大|小)|多长|多宽|长度|size|dimension|how big|"
        r"(?<![a-z'])(xs|s|m|l|x{1,3}l)(?![a-z'])|\d+码",
        ("尺寸", "尺码", "规格", "长", "宽", "码"),
        exact=True,
    ),
    _t(r"多高|高度|矮|how tall", ("高",)),
    _t(r"多深|深度|how deep", ("深",)),
    _t(r"多远|距离|how far", ("距离",)),
    _t(
        r"材质|材料|面料|成分|配料|什么做的|什么钢|塑料|布料|料子|material|made of|fabric|"
        r"ingredient",
        ("材质", "面料", "成分", "配料", "填充", "鞋面", "内胆"),
    ),
    _t(
        r"容量|毫升|装多少|装得多|净含量|多少克|几克|分量|capacity|volume|\bml\b|"
        r"how much .*hold|holds? more",
        ("容量", "净含量", "规格"),
    ),
    _t(r"重量|多重|几斤|重不重|轻不轻|哪个(轻|重)|weigh|heavy|light", ("重量", "克重")),
    _t(
        r"[黑白红蓝绿粉灰紫黄棕橙金银米咖]色|颜色|色号|什么色|colou?r|shade|black|white|red|blue|"
        r"green|pink|gr[ae]y|purple",
        ("颜色", "色号"),
        exact=True,
    ),
    _t(r"产地|哪里产|哪产|哪里的|哪儿产|origin|where .*made|made in", ("产地",)),
    _t(r"保质期|放多久|放得久|放久|存放|过期|shelf life|expire|how long .*keep", ("保质期",)),
    _t(r"保温|保冷|insulat|keep.*(warm|hot|cold)", ("保温",)),
    _t(r"功率|多少瓦|瓦数|\bwatt|power", ("功率",)),
    _t(
        r"续航|电量|充一次|用多久|扫多久|能用多久|battery life|how long .*last",
        ("续航",),
        ("电池",),
    ),
    _t(r"电池|battery|mah", ("电池",)),
    _t(r"防雨|防水|下雨|淋雨|rain|waterproof|water.?resistant", ("防水",), ("面料",)),
    _t(r"开水|高温|烫|消毒|蒸|沸水|耐热|boil|steril|hot water|heat", ("耐温",), ("材质",)),
    _t(r"适合.{0,4}(皮|肤)|干皮|油皮|敏感肌|混油|skin", ("肤质",), ("适用",)),
    _t(r"几个人|几人|多少人|住几|how many people|person", ("人数",), ("适用",)),
    _t(r"噪音|吵|声音大|noise|loud|quiet", ("噪音",)),
    _t(r"年龄|几个月|几岁|多大的(宝宝|孩子)|age|months|years old", ("年龄",), ("适用",)),
    _t(r"辣|口味|味道|甜|咸|taste|flavou?r|spicy", ("口味", "辣度"), ("口感",)),
    _t(r"糖|热量|卡路里|能量|会胖|长胖|calorie|sugar", ("热量", "能量", "含糖"), ("配料", "成分")),
    _t(r"冰箱|冷藏|常温|储存|保存|怎么放|存放", ("储存", "保存"), ()),
    _t(r"厚|薄|thick|thin", ("厚度",)),
    _t(r"充电|快充|charg", ("充电",), ("输出", "电池")),
    _t(r"电压|voltage|220v|110v", ("电压",)),
    _t(r"承重|能坐|坐得下|坐人|躺|\d+\s*(斤|公斤|kg)的人|weight limit|hold my weight", ("承重",)),
    _t(r"面积|\d+\s*(平|平米|平方)|多大的房|how many square", ("面积",)),
]
