"""Keyword rules for zh + en live chat: spam, one intent vocabulary, and pointing words."""

from __future__ import annotations

import re

from assistant.text import fold, normalise
from assistant.understand.types import Intent

_SPAM = re.compile(
    r"(https?://|www\.|\.com\b|加微|加v|vx:?\w|微信号|qq:?\d|\d{7,}|代购|兼职|刷单|"
    r"日赚|私聊我|招代理|赚钱)",
    re.IGNORECASE,
)
_REPEAT = re.compile(r"(.)\1{7,}")

# First match wins, so the specific patterns stand before the generic ones ("有没有便宜点的"
# asks for a recommendation, not the price; "几号链接" is how to buy, not a spec).
RULES: list[tuple[Intent, re.Pattern[str]]] = [
    (
        "how_to_buy",
        re.compile(
            r"怎么(买|拍|下单|购买|抢)|在哪(里)?(买|拍|下单)|哪里(买|拍)|去哪(买|拍)|下单|"
            r"链接|连接|几号|小黄车|购物车|上车|拍哪|咋买|咋拍|怎样买|(没|未|不)付款|"
            r"how (do|can|to) (i )?(buy|order|get|purchase)|where (do|can|to) (i )?(buy|order)|"
            r"(?<![a-z])link(?![a-z])|checkout|(?<![a-z])cart(?![a-z])|place an order"
        ),
    ),
    (
        "recommendation",
        re.compile(
            r"推荐|求推|送(给)?(人|礼|妈|爸|老|女|男|朋友|长辈|闺蜜|同事|孩子|小孩|宝宝)|礼物|"
            r"买(什么|啥)|选(什么|啥)|有没有.{0,6}(便宜|实惠|更好|别的|其他|类似|同款)|"
            r"还有(什么|啥|别的|其他)|\d+\s*(元|块)?\s*(以内|以下|之内|左右)|搭配|配什么|性价比|"
            r"recommend|suggest|\bgift|present for|what should i (buy|get)|something (like|for)|"
            r"cheaper|alternative|similar|goes? with|under \$?\d+"
        ),
    ),
    (
        "compare",
        re.compile(
            r"哪个|哪款|哪一个|哪一款|哪种|区别|差别|不同|对比|比较|差(多少|几|在哪)|"
            r"\bvs\b|versus|difference|compare|which (one|is|holds|keeps|has|lasts)|better"
        ),
    ),
    (
        "stock",
        re.compile(
            r"库存|有货|有或|没货|还有吗|还有没|还剩|剩几|剩多少|还有多少|几件|抢光|卖完|售罄|补货|"
            r"什么时候补|现货|断货|还能拍|能拍吗|还能买|in stock|stock|sold out|available|any left|"
            r"how many left"
        ),
    ),
    ("after_sales", re.compile(r"售后|保修|质保|坏了|维修|warranty|repair|broken|guarantee")),
    (
        "price",
        re.compile(
            r"多少钱|多少前|多小钱|好多钱|多钱|多少qian|到手(价|多少)|价格|价钱|几(十|百)?块|几元|"
            r"差(多少|几)|"
            r"啥价|什么价|优惠|"
            r"打折|折扣|原价|划算|贵|便宜|券|price|cost|how much|discount|coupon|\bdeal\b"
        ),
    ),
    ("returns", re.compile(r"退货|退换|换货|退款|无理由|能退|可以退|退吗|return|refund|exchange")),
    (
        "shipping",
        re.compile(
            r"发货|快递|物流|包邮|包油|运费|几天(能)?到|多久(能)?到|什么时候(能)?到|今天发|发吗|"
            r"配送|顺丰|邮费|寄到|寄去|能寄|ship|deliver|postage"
        ),
    ),
    ("invoice", re.compile(r"发票|开票|专票|普票|invoice|receipt")),
    (
        "payment",
        re.compile(
            r"分期|花呗|付款|支付|云闪付|微信付|先用后付|信用卡|白条|月付|货到付|installment|"
            r"credit card|paypal|"
            r"pay later|cash on delivery"
        ),
    ),
    (
        "size_advice",
        re.compile(
            r"(\d+\s*(斤|kg|公斤)|身高|体重|1[0-9]\d\s*(cm)?).{0,12}(码|号|穿)|"
            r"(选|拿|买|穿|拍)(多大|什么|哪个|几)(码|号)|what size should|which size (should|for)"
        ),
    ),
    (
        "spec",
        re.compile(
            r"尺寸|尺码|多大|多高|多长|多宽|多重|重量|几斤|容量|材质|材料|面料|成分|配料|颜色|色号|"
            r"规格|参数|毫升|大小|功率|产地|保质期|续航|电池|几档|厚度|多厚|含量|"
            r"\bsize|material|weight|capacity|colou?r|dimension|made of|\bspec|how big|how heavy|"
            r"fabric|ingredient|volume|power|battery|shelf life|how long|how thick"
        ),
    ),
    # "袜子多少" with nothing else asked: the price, as live chat means it.
    ("price", re.compile(r"多少\W*$|几多\W*$")),
    (
        "usage",
        re.compile(
            r"怎么用|如何使用|怎么洗|怎么吃|怎么泡|怎么保存|怎么放|用法|能不能|可不可以|可以.{0,10}吗|"
            r"能.{0,10}吗|适合|会不会|是不是|要不要|how (to|do i|do you) use|can (i|it|you)|"
            r"does it|is it|will it|suitable"
        ),
    ),
    (
        "offtopic",
        re.compile(r"天气|下雨了|股票|彩票|新闻|写作业|讲个笑话|tell me a joke|weather|politic"),
    ),
    (
        "greeting",
        re.compile(
            r"^\W*(主播|宝宝们|家人们|大家)?\W*(你好|您好|好|哈喽|嗨|晚上好|早上好|下午好|来了|hello|hi|"
            r"hey)[呀啊哇哦鸭]*\W*$"
        ),
    ),
    (
        "chitchat",
        re.compile(
            r"^\W*(6{2,}|哈哈+|好看|漂亮|爱你|支持|么么哒?|加油|谢谢|thanks|lol|nice|cool|wow)"
        ),
    ),
    (
        "question",
        re.compile(
            r"[?？]|吗|呢|么|啥|什么|怎么|咋|多少|几|有没有|有木有|\b(what|how|which|does|do|is|are|can)\b"
        ),
    ),
]
PRICE_WORDS = next(p for i, p in RULES if i == "price")
# Yes/no questions: a fact found only by topic ("防雨" -> 面料) may not say yes or no.
YES_NO = re.compile(
    r"[吗嘛不没][?？!！\s~]*$|会不会|能不能|是不是|可不可以|有没有|要不要|\b(is|does|can|will) it\b"
)
DEICTIC = re.compile(
    r"这个|这款|这件|这只|这杯|这条|这双|这套|这瓶|这盒|这支|这把|这台|这是|它|主播手上|手里(的|这)|"
    r"\b(this|it|this one|that one)\b"
)
FOLLOW_UP = re.compile(r"^(那|那个|那款|那要是|那如果|还有|and|what about|how about)|呢[?？\s]*$")


def is_spam(text: str) -> bool:
    lowered = fold(text)
    return bool(_SPAM.search(lowered) or _REPEAT.search(lowered)) or not normalise(text)


def intent_of(text: str) -> Intent | None:
    """The intent keyword rules read in a line; None when no rule speaks (the reader decides
    from what the line links to: a product named means a question about it)."""
    lowered = fold(text)
    for intent, pattern in RULES:
        if pattern.search(lowered):
            return intent
    return None
