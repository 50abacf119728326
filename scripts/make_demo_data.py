#!/usr/bin/env python3
"""Generate the bundled demo data that ``brandpulse demo`` replays (config/demo/).

One simulated week (Mon 2026-03-02 00:00 to Sun 2026-03-08 24:00, China time) of bilingual
mentions of three fictional brands, ending inside a negative crisis burst for 青禾乳业 (qinghe):

    .venv/bin/python scripts/make_demo_data.py            # writes config/demo/*, prints a summary
    .venv/bin/python scripts/make_demo_data.py --check    # regenerate in memory, fail if files differ

Everything is drawn from ``random.Random(SEED)``, so the output is byte-for-byte reproducible.
All texts are composed here from templates and slot fillers (nothing is copied from real data):
many independent slots (opener, core sentence, detail, closer, emoji, hashtag, names, numbers,
places) keep distinct posts far apart under a SimHash over character 3-grams, which the
summary verifies. The summary also computes, per brand, the largest normal-week ratio of
negatives per 15-minute bucket to the seasonal baseline and compares it with the burst and with
the thresholds in config/demo_plan.yaml, so the plan's margins are visible.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import random
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

try:  # optional: only for the Traditional-script posts; the venv has it (a runtime dependency)
    import opencc

    _S2T = opencc.OpenCC("s2t")
except ImportError:  # pragma: no cover - the project always installs it
    _S2T = None

SEED = 20260302
CST = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, tzinfo=CST)  # a Monday
DAYS = 7
BUCKET = timedelta(minutes=15)
BURST_START = START + timedelta(days=6, hours=21)  # Sunday 21:00, the last 3 hours
END = START + timedelta(days=7) - timedelta(seconds=20)  # the newest record (23:59:40)
# negatives per 15-minute bucket in the qinghe burst, 21:00 .. 23:45 (rising to the peak at the end)
BURST_NEGATIVES = [1, 2, 3, 4, 6, 8, 10, 13, 16, 19, 23, 26]
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "config" / "demo"
PLAN = ROOT / "config" / "demo_plan.yaml"

# posts per hour-of-day, relative: quiet 2-6am, lunch peak, evening peak 20-22h
HOUR_W = [0.55, 0.32, 0.14, 0.08, 0.07, 0.10, 0.28, 0.65, 0.95, 1.05, 1.10, 1.45,
          1.85, 1.50, 1.05, 0.95, 1.00, 1.10, 1.20, 1.45, 1.85, 1.95, 1.65, 1.05]
# weekends: later mornings, busier afternoons
WEEKEND_HOUR_W = [0.75, 0.50, 0.22, 0.10, 0.07, 0.08, 0.15, 0.30, 0.55, 0.90, 1.20, 1.50,
                  1.80, 1.60, 1.40, 1.30, 1.25, 1.20, 1.25, 1.45, 1.80, 1.90, 1.75, 1.25]


@dataclass
class BrandSpec:
    id: str
    per_day: float  # normal mentions per weekday
    weekend: float  # weekend multiplier
    negative: float  # share of complaints in normal traffic
    positive: float  # share of praise; the rest is neutral


BRANDS = [
    BrandSpec("qinghe", 118, 1.10, 0.19, 0.46),
    BrandSpec("xinghe", 140, 1.30, 0.21, 0.43),
    BrandSpec("acme", 100, 0.85, 0.18, 0.47),
]


@dataclass
class Post:
    time: datetime
    channel: str  # weibo | news | tweet
    text: str
    author: str
    followers: int
    brand: str | None  # the brand it is meant to match; None for noise / exclusions
    sentiment: str  # pos | neu | neg
    kind: str = "mention"  # mention | burst | noise | excluded | repost | duplicate
    title: str = ""
    engagement: tuple[int, int, int] = (0, 0, 0)  # reposts, comments, likes
    ext: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- slot pools
PLACES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "苏州", "长沙",
          "郑州", "天津", "青岛", "厦门", "合肥", "昆明", "宁波", "无锡", "济南", "大连", "福州", "南昌",
          "沈阳", "哈尔滨", "贵阳", "南宁", "石家庄", "太原", "佛山", "东莞", "温州", "珠海", "兰州", "海口"]
CITIES_EN = ["Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Chengdu", "Guangzhou", "Wuhan", "Nanjing",
             "Singapore", "Hong Kong", "Kuala Lumpur", "Taipei", "Sydney", "Vancouver", "London", "Toronto",
             "San Francisco", "Seattle", "Melbourne", "Bangkok", "Tokyo", "Dubai", "Berlin", "Auckland"]
STORES = ["楼下便利店", "盒马", "山姆", "社区团购", "京东", "天猫旗舰店", "拼多多", "永辉超市", "直播间",
          "公司楼下的店", "地铁站旁边的店", "商场一楼", "机场店", "高铁站", "小区门口超市", "抖音团购"]
TIMES = ["早上", "中午", "下午", "晚上", "刚才", "昨天", "前天", "周末", "上班路上", "午休的时候", "加班到十点",
         "下班后", "健身完", "开会前", "凌晨", "今天一早"]
WHO = ["我妈", "我爸", "老公", "老婆", "室友", "同事", "女儿", "儿子", "闺蜜", "男朋友", "女朋友", "婆婆",
       "隔壁老王", "部门领导", "表弟", "外婆", "实习生小李", "对象"]
ZH_NAME_A = ["小", "阿", "大", "老", "胖", "萌", "甜", "酷", "懒", "不吃", "爱喝", "想睡", "会飞的", "迷路的",
             "快乐", "暴躁", "佛系", "认真", "吃货", "夜猫"]
ZH_NAME_B = ["鱼", "猫", "兔子", "橙子", "柠檬", "星星", "月亮", "土豆", "番茄", "可乐", "豆豆", "果果", "糖糖",
             "大白", "阿福", "小熊", "芒果", "奶盖", "泡芙", "饺子", "年糕", "汤圆", "麻薯", "栗子"]
ZH_NAME_C = ["", "", "", "_", "酱", "同学", "呀", "本人", "2019", "0712", "_sh", "在杭州", "的日常", "不加糖",
             "今天也要加油", "吖", "v", "88", "小号", "在路上"]
EN_FIRST = ["amy", "ben", "chloe", "dan", "emma", "finn", "grace", "hugo", "ivy", "jack", "kate", "leo",
            "mia", "nate", "olivia", "paul", "quinn", "ruby", "sam", "tess", "umar", "vera", "will", "zoe",
            "wei", "jun", "mei", "lin", "hao", "yan"]
EN_WORD = ["coffee", "tech", "daily", "runs", "eats", "reviews", "travels", "codes", "mom", "dad", "nerd",
           "lover", "writes", "snaps", "bytes", "brews", "gadgets", "life", "on_the_go", "hk", "sg", "cn"]

ZH_POS_EMO = ["[哈哈]", "[爱你]", "[赞]", "[太开心]", "[嘻嘻]", "😋", "👍", "❤️", "✨", "😍", "🎉"]
ZH_NEG_EMO = ["[怒]", "[泪]", "[抓狂]", "[衰]", "[吐]", "[生病]", "[怒骂]", "[悲伤]", "[失望]",
              "😡", "💢", "😤", "👎", "😭", "🤮"]
ZH_NEU_EMO = ["[微笑]", "🤔", "👀", "☕", "📱", "🥛", "✨"]
EN_POS_EMO = ["😍", "🙌", "👏", "☺️", "💯", "🔥", "❤️", "😊", ""]
EN_NEG_EMO = ["😡", "🤬", "👎", "😤", "🙄", "😞", ""]
EN_NEU_EMO = ["🤔", "👀", "📦", "☕", "", ""]

ZH_POS_OPEN = ["安利一波：", "家人们！", "真心推荐，", "今日份小确幸：", "必须夸一下，", "太惊喜了！", "实名推荐：",
               "好物分享｜", "开心！", "种草成功：", "强烈推荐，"]
ZH_NEG_OPEN = ["无语了，", "气死我了！", "吐槽一下，", "避雷！", "真的服了，", "心累，", "大家评评理：",
               "第一次写差评，", "忍不了了，", "血亏，", "踩雷了，", "闹心！"]
ZH_NEU_OPEN = ["问一下，", "记录一下：", "今天", "刚刚", "路过", "碎碎念：", "求助：", "打卡：", "随手记：", ""]
ZH_POS_CLOSE = ["会一直回购的", "推荐给大家", "好评！", "真的爱了", "五星好评", "值得", "良心品牌", "越来越喜欢了",
                "超级满意", "真的很棒", "好喜欢", "满分"]
ZH_NEG_CLOSE = ["大家别买了", "差评！", "再也不会买了", "太让人失望了", "浪费钱", "后悔死了", "已经申请退款",
                "气得不想说话", "真的太差劲了", "劝退", "避雷避雷", "恶心"]
ZH_NEU_CLOSE = ["期待一下", "不错", "分享给大家", "挺好的", "感觉不错", "值得期待", "记录生活", ""]


@dataclass
class BrandText:
    aliases_zh: list[str]
    aliases_en: list[str]
    products_zh: list[str]
    products_en: list[str]
    pos_zh: list[str]
    neg_zh: list[str]
    neu_zh: list[str]
    pos_en: list[str]
    neg_en: list[str]
    neu_en: list[str]
    tags_zh: list[str]
    tags_en: list[str]
    news_pos: list[str]
    news_neg: list[str]
    news_neu: list[str]
    news_en: list[str]


# {a}=alias {p}=product {place} {store} {price} {n} {who} {time} {other}
TEXTS: dict[str, BrandText] = {
    "qinghe": BrandText(
        aliases_zh=["青禾", "青禾牛奶", "青禾乳业", "青禾"],
        aliases_en=["Qinghe", "Qinghe Dairy", "Qinghe milk"],
        products_zh=["纯牛奶", "低脂奶", "高钙奶", "原味酸奶", "希腊酸奶", "儿童成长奶", "鲜牛奶", "燕麦奶",
                     "奶酪棒", "A2蛋白奶", "草莓酸奶", "有机纯牛奶", "脱脂奶", "黄桃酸奶"],
        products_en=["whole milk", "yogurt", "oat milk", "greek yogurt", "kids milk", "cheese sticks",
                     "fresh milk", "organic milk"],
        pos_zh=["{a}的{p}奶香特别浓，喝起来很顺滑", "{a}{p}口感醇厚，好喝又健康", "给孩子买的{a}{p}，{who}说比以前那个牌子好喝多了",
                "早餐必备{a}{p}，配面包简直完美", "{a}{p}冰着喝超好喝，一口气喝了两盒，开心", "{store}买的{a}{p}，{price}元一箱，划算又好喝",
                "{a}的{p}甜度刚刚好，{who}也超爱", "喝了{n}年{a}了，品质一直很好，很放心", "{a}{p}新口味好好喝，酸甜适中",
                "{time}来一杯{a}{p}，幸福感满满", "{a}{p}的包装也太可爱了，味道还很赞", "健身后一盒{a}{p}，蛋白质满满还好喝"],
        neg_zh=["{a}的{p}有股怪味，难喝死了", "{store}买的{a}{p}到手好几盒都胀包了", "{a}{p}又涨价了，{price}元一箱谁买得起",
                "{a}客服态度太差了，问了{n}次都没人理", "买的{a}{p}全是临期的，商家太坑了", "{a}{p}包装漏了，一箱全是奶，恶心",
                "{a}{p}味道寡淡，像兑了水一样", "{a}{p}太甜了齁得难受，配料表一堆添加剂", "{a}{p}退货推来推去就是不给退",
                "快递送来的{a}{p}压得稀烂，客服还甩锅", "{a}{p}越来越难喝了，以前不是这样的", "{who}喝了{a}{p}说一股塑料味，扔了"],
        neu_zh=["{a}{p}和{other}哪个更适合老人喝？", "{place}的{store}{a}{p}在做活动，{price}元一箱", "{a}出了新口味的{p}",
                "第一次买{a}的{p}，期待一下", "今天早餐：{a}{p}加两个包子", "{a}{p}放冰箱里冰一下再喝，口感更好", "看到{a}在{place}开了新工厂",
                "{who}最喜欢喝{a}{p}，回家带了一箱", "研究了一下{a}的{p}和普通款的配料表，蛋白质含量高一些", "{store}的{a}{p}补货了，很开心囤了一箱", "{a}{p}的保质期是几天来着"],
        pos_en=["{a} {p} is honestly the best I've had, so creamy", "Loving the new {a} {p}, great taste and great price",
                "My kids love {a} {p}, we go through a box every {n} days", "{a} {p} with my morning coffee = perfect start",
                "Impressed by {a} {p}. Smooth, fresh and not too sweet", "Switched to {a} {p} last month and never going back"],
        neg_en=["{a} {p} tasted sour and awful today, really disappointed", "Terrible service from {a}, still waiting on my refund after {n} days",
                "{a} {p} price went up again, what a rip-off", "Half the {a} {p} cartons arrived leaking. Worst delivery ever",
                "{a} {p} has gotten so watery lately. Not buying again"],
        neu_en=["Anyone tried {a} {p}? Thinking of switching", "Saw {a} {p} on sale in {city} for {price} yuan",
                "{a} launching a new {p} line next month", "Is {a} {p} available outside China?", "Picked up some {a} {p} for the week"],
        tags_zh=["#青禾牛奶#", "#今日份早餐#", "#牛奶测评#", "#好物分享#", "#宝妈日常#"],
        tags_en=["#QingheDairy", "#milk", "#breakfast", "#foodie"],
        news_pos=["{a}{p}获评年度消费者喜爱乳品，{place}市场销量同比增长{pct}%", "{a}在{place}新建智能化牧场，年产鲜奶{n}万吨",
                  "{a}发布{p}新品，主打低糖高蛋白，首周售出{n}万箱"],
        news_neg=["{place}消费者反映{a}{p}临期产品偏多，客服回应称将整改", "{a}{p}提价{pct}%引发部分消费者不满"],
        news_neu=["{a}公布年度财报，营收{n}亿元", "{a}与{place}多所学校签订学生奶供应协议", "{a}{p}将在{place}门店铺货"],
        news_en=["Qinghe Dairy reports {pct}% revenue growth on strong yogurt sales", "Qinghe Dairy opens new farm near {city}",
                 "Qinghe Dairy bets on {p} as health-conscious shoppers in {city} trade up",
                 "Qinghe Dairy signs school milk deal covering {n} schools"],
    ),
    "xinghe": BrandText(
        aliases_zh=["星河", "星河手机", "星河"],
        aliases_en=["Xinghe", "Xinghe Phone", "Xinghe"],
        products_zh=["X5", "X5 Pro", "Note 12", "Lite 3", "Fold 2", "平板 S", "手表 S3", "耳机 Buds", "X6 Ultra", "Note 12 青春版"],
        products_en=["X5", "X5 Pro", "Note 12", "Fold 2", "X6 Ultra", "Buds", "Watch S3", "Lite 3"],
        pos_zh=["{a}{p}拍照效果太棒了，夜景也很清晰，超喜欢", "{a}{p}续航很满意，重度使用一天还剩{pct}%电，好评", "换了{a}{p}，非常流畅，用着很开心",
                "{a}{p}的屏幕真好看，追剧太舒服了", "{a}{p}手感超好，{who}也想要一台", "{a}{p}快充{n}分钟就满电，爱了",
                "{store}入手{a}{p}，{price}元这配置很值，推荐", "{a}的系统更新后更丝滑了，好评", "用{a}{p}打游戏很流畅，体验很好",
                "{a}{p}信号很好，比我上一台强多了，满意"],
        neg_zh=["{a}{p}发热严重，玩{n}分钟就烫手", "{a}{p}卡顿得要命，新机就这样", "{a}{p}电池不耐用，半天就没电了",
                "{a}售后太差了，修了{n}次还是黑屏", "{a}{p}屏幕出现绿线，客服说是人为损坏，气死", "刚买的{a}{p}就降价{price}元，太坑了",
                "{a}{p}系统更新后一直闪退", "{a}{p}摄像头进灰了，才用了{n}天", "{a}{p}信号差到打不了电话"],
        neu_zh=["{a}{p}和{other}都不错，正在纠结选哪个", "听说{a}要出{p}了，期待下周的发布会", "{store}的{a}{p}今天{price}元，价格还可以", "准备把旧手机换成{a}{p}，看评测都说不错",
                "{a}的{p}支持无线充电，挺方便的", "{place}的{a}体验店开业了，周末去逛逛", "{who}想换{a}{p}，帮忙看了看参数，还不错", "{a}{p}的参数公布了，{n}GB内存起步，期待"],
        pos_en=["The {a} {p} camera is insane, night shots look like daylight", "Battery on my {a} {p} lasts all day, love it",
                "{a} {p} is the best phone I've owned, super smooth", "Great job {a}, the {p} update fixed everything",
                "Got the {a} {p} for {price} yuan, amazing value"],
        neg_en=["My {a} {p} overheats after {n} minutes of gaming, awful", "{a} support is useless, phone still broken after {n} repairs",
                "{a} {p} screen has green lines already. Terrible quality", "Battery on the {a} {p} is a joke, dead by lunch",
                "{a} {p} keeps crashing since the update, so frustrating"],
        neu_en=["Should I get the {a} {p} or wait for the next one?", "{a} {p} launching in {city} next week",
                "Anyone know if the {a} {p} supports eSIM?", "Specs of the {a} {p} leaked: {n}GB RAM", "Comparing the {a} {p} with my old phone"],
        tags_zh=["#星河手机#", "#数码好物#", "#手机测评#", "#星河X5#"],
        tags_en=["#XinghePhone", "#smartphone", "#tech", "#android"],
        news_pos=["{a}{p}首销{n}分钟销量破十万台", "{a}出货量跻身国内前五，{place}工厂扩产", "{a}{p}影像能力获专业评测高分"],
        news_neg=["{a}{p}部分用户反映发热问题，官方称将推送更新", "{a}售后服务吐槽增多，{place}用户集中反映维修周期长"],
        news_neu=["{a}将于下月发布{p}，预计售价{price}元起", "{a}在{place}开设旗舰体验店", "{a}发布第{n}季度财报"],
        news_en=["Xinghe Phone ships {n} million units as {p} sales climb", "Xinghe unveils {p} with new camera sensor",
                 "Review: the Xinghe {p} is a strong mid-range pick", "Xinghe Phone opens flagship store in {city}"],
    ),
    "acme": BrandText(
        aliases_zh=["阿克米", "阿克米咖啡", "ACME", "阿克米"],
        aliases_en=["ACME", "ACME Coffee", "ACME coffee"],
        products_zh=["燕麦拿铁", "美式", "生椰拿铁", "冷萃", "澳白", "焦糖玛奇朵", "桂花拿铁", "挂耳咖啡", "咖啡豆",
                     "抹茶拿铁", "海盐芝士拿铁", "冰美式"],
        products_en=["oat latte", "americano", "cold brew", "flat white", "caramel macchiato", "drip bags", "espresso"],
        pos_zh=["{a}的{p}太好喝了，每天一杯续命", "{a}{p}香醇好喝，{price}元很实惠，推荐", "{a}新品{p}好好喝，已经回购{n}次",
                "{time}来杯{a}{p}，好喝又提神，心情很好", "{place}的{a}店员小姐姐超温柔，{p}也好喝", "{a}{p}的拉花好漂亮，拍照超出片",
                "{a}{p}是我喝过最好喝的，很喜欢", "在{store}买的{a}{p}，香气很足，赞", "{a}会员日{p}买一送一，好喝又划算，开心"],
        neg_zh=["{a}的{p}酸得难以下咽，太难喝了", "{a}{p}等了{n}分钟还没做好，服务太差", "{a}{p}越来越贵，{price}元一杯真不值",
                "{a}外卖送来的{p}洒了一半，客服还不管", "{a}{p}里居然有冰渣子，口感差到极点", "{a}店员态度冷漠，点个{p}还被翻白眼",
                "{a}{p}水兮兮的没有咖啡味，差评", "{a}小程序下单{n}次都失败，气死了"],
        neu_zh=["{a}{p}和{other}换着喝，今天选了{a}", "{place}新开了一家{a}，装修挺好看的", "{a}{p}现在{price}元一杯，价格挺合适的", "今天试试{a}的{p}，期待",
                "{a}的{p}有低因版本了，晚上也能喝", "{who}推荐了{a}{p}，明天去试试，期待", "{a}上新了{p}，周末去尝尝", "{store}附近也开了{a}，方便多了"],
        pos_en=["{a} {p} is my daily fuel, so good", "The {a} {p} is smooth and rich, highly recommend", "Love the baristas at {a} in {city}, great {p}",
                "{a} {p} for {price} yuan is a great deal", "{a} {p} never disappoints"],
        neg_en=["{a} {p} was burnt and bitter today, gross", "Waited {n} minutes for an {a} {p}. Terrible service",
                "{a} {p} is overpriced and watery, never again", "Rude staff at {a} in {city}, worst coffee run ever",
                "{a} app failed {n} times, so annoying"],
        neu_en=["Trying the new {a} {p} today", "{a} opening a store in {city}", "Is {a} {p} better than a regular latte?",
                "{a} {p} now costs {price} yuan", "Grabbing an {a} {p} before the meeting"],
        tags_zh=["#阿克米咖啡#", "#打工人的咖啡#", "#咖啡日记#", "#今日份咖啡#"],
        tags_en=["#ACMECoffee", "#coffee", "#coffeetime", "#latte"],
        news_pos=["{a}咖啡门店突破{n}家，{place}成为增长最快城市", "{a}咖啡{p}上市首周售出{n}万杯", "{a}咖啡获评年度最受欢迎连锁品牌"],
        news_neg=["{a}咖啡多款饮品提价，消费者吐槽性价比下降", "{place}消费者吐槽{a}咖啡外卖出餐慢"],
        news_neu=["{a}咖啡与{place}本地烘焙品牌联名", "{a}咖啡发布季度经营数据，同店销售增长{pct}%", "{a}咖啡将在{place}开设烘焙工厂"],
        news_en=["ACME Coffee opens its {n}th store in {city}", "ACME Coffee launches {p} across Asia",
                 "ACME Coffee's {p} wins over office workers in {city}", "ACME Coffee posts {pct}% same-store sales growth"],
    ),
}
OTHER_ZH = {"qinghe": ["隔壁那个牌子", "进口奶", "自己煮的豆浆", "羊奶"], "xinghe": ["果子手机", "上一代", "隔壁家的旗舰", "二手机"],
            "acme": ["便利店咖啡", "速溶咖啡", "奶茶", "隔壁那家咖啡"]}
OUTLETS_ZH = [("每日财经快讯", 8_600_000), ("城市消费报", 1_450_000), ("科技前沿网", 920_000), ("晨报新闻", 2_300_000),
              ("商业观察", 680_000), ("食品饮料周刊", 310_000), ("数码评测社", 540_000), ("本地生活网", 120_000)]
OUTLETS_EN = [("Asia Consumer Watch", 950_000), ("The Market Ledger", 410_000), ("Gadget Pulse", 300_000)]

NOISE_ZH = ["今天{place}下雨了，{time}出门忘带伞{emo}", "{who}做的红烧肉太香了，吃了三碗饭{emo}", "加班到{n}点，终于下班了{emo}",
            "周末去{place}爬山，风景真不错{emo}", "地铁{n}号线又挤成沙丁鱼了{emo}", "新买的跑鞋穿着挺舒服，跑了{n}公里{emo}",
            "{place}的房价又涨了，打工人太难了{emo}", "追的剧更新了，{who}哭得稀里哗啦{emo}", "考研倒计时{n}天，冲鸭{emo}",
            "楼下的猫又来蹭饭了，今天给它带了小鱼干{emo}", "{time}在{place}吃了一碗牛肉面，{price}元，分量很足{emo}",
            "{who}生日快乐！今年也要开开心心{emo}", "健身第{n}天，体重终于掉了{emo}", "春天来了，{place}的玉兰花开了{emo}"]
NOISE_EN = ["Rainy morning in {city} again", "Finally finished my {n}k run today", "Traffic in {city} is unreal this week",
            "Anyone else binge-watching that new show? Episode {n} was wild", "Made dumplings with {who_en} tonight",
            "Flight to {city} delayed {n} hours, great start to the trip", "Spring is here, cherry blossoms everywhere in {city}",
            "Day {n} of learning Mandarin, tones are hard", "Just adopted a cat and named her Noodle", "{n} unread emails. Not today",
            "Moving apartments in {city} this weekend, send help", "Best ramen in {city}? Asking for {who_en}",
            "The sunset over {city} tonight was unreal", "Working from a cafe in {city}, wifi is surprisingly fast"]
NOISE_EN_TAIL = ["", "", "lol", "honestly", "#weekend", "#mondaymood", "#life", "(again)", "- day {n}", "with {who_en}"]
EXCLUDED_ZH = ["阿克米德教授今晚在{place}大学做讲座，主题是古典力学史", "读完了阿克米德的新书《浮力与杠杆》，推荐{emo}",
               "听了阿克米德老师的{n}节物理课，终于搞懂了杠杆原理", "{place}科技馆有阿克米德生平展，周末带娃去看{emo}",
               "阿克米德先生的访谈里说，好奇心是科学的起点", "转给{who}：阿克米德讲浮力的视频讲得太清楚了",
               "阿克米德在采访中谈到{place}的科普教育"]

# ----- the crisis burst (qinghe): a milk-quality incident spreading on Weibo
BURST_BATCH = ["QH20260211B", "QH20260214A", "QH20260217C"]
BURST_OPEN = ["震惊！", "刚看到，", "[怒]", "求扩散！", "细思极恐，", "家人们注意！", "出大事了，", "真的后怕，", "", "",
              "看完新闻手都在抖，", "避雷避雷！", "快看看自家冰箱！"]
BURST_CORE = [
    "{who}喝了{a}{p}之后上吐下泻，送去医院说是急性肠胃炎，这不就是食物中毒吗",
    "{a}{p}喝出异物！一块黑乎乎的东西，批次号{batch}，大家快看看自己家的",
    "听说{a}要召回{batch}批次的{p}？到底怎么回事，官方赶紧出来说清楚",
    "{a}{p}打开就是一股馊味，已经变质了，还在保质期内",
    "我们小区群里好几家孩子喝了{a}{p}都拉肚子，太可怕了",
    "{place}好几家超市的{a}{p}都下架了，是不是有问题",
    "已经向12315投诉{a}了，客服电话打了{n}次都打不通",
    "{a}维权群已经{n}人了，必须给消费者一个说法",
    "给孩子喝了一年{a}{p}，现在想想都后怕，再也不敢买了",
    "{a}{p}里面有絮状物，结块发臭，拍了视频留证据",
    "{a}到现在一个字都不回应，装死是吧？",
    "准备起诉{a}，律师说证据要保存好，{p}的盒子别扔",
    "{a}{p}变质的事被曝光了，{place}那边的经销商在连夜撤货",
    "买了{n}箱{a}{p}屯着，现在全砸手里了，退款都不给退",
    "{who}喝完{a}{p}发烧呕吐，在{place}儿童医院挂水，气得发抖",
    "{a}的品控是摆设吗？{p}胀包、发酸、有异物，一个都没少",
]
BURST_CLOSE = ["#青禾牛奶变质#", "#青禾乳业召回#", "#青禾牛奶喝出异物#", "必须严查！", "太恶心了", "抵制！", "还我们一个说法",
               "大家别再买了", "[怒][怒][怒]", "[泪]", "😡😡", "转发让更多人看到", "食品安全不是儿戏", ""]
BURST_OTHER = [  # neutral / defending voices inside the burst (not negative)
    ("neu", "{a}官方客服称正在核查{batch}批次情况，暂未收到检测结论"),
    ("neu", "有没有人知道{a}{p}到底是哪几个批次？{place}这边超市还在卖"),
    ("neu", "{place}市场监管部门表示已关注{a}相关反映，将依法调查"),
    ("pos", "我家喝了好几年{a}了一直没事，等官方检测结果吧，别被带节奏[doge]"),
    ("neu", "{a}{p}批次号在盒子侧面，大家可以对照一下"),
]
BURST_KOL = [  # high-follower accounts (media, KOL) with the crisis keywords
    ("每日财经快讯", 8_600_000, "【青禾乳业回应产品质量问题：{batch}批次已暂停销售】近日多地消费者反映青禾牛奶变质、喝出异物，"
     "部分儿童饮用后出现呕吐腹泻，疑似食物中毒。{place}等地超市已将相关批次下架，有消费者表示将起诉维权。#青禾乳业召回#"),
    ("育儿博主Lily妈", 2_300_000, "作为两个孩子的妈妈真的愤怒到发抖！青禾牛奶喝出异物、变质，我们群里{n}个家庭的孩子都拉肚子。"
     "青禾乳业必须立刻召回全部问题批次，公开检测报告，不然我们就集体起诉！#青禾牛奶变质# [怒]"),
    ("食品安全观察", 1_200_000, "【曝光】青禾乳业{batch}批次纯牛奶被指变质，多地出现饮用后不适病例。消费者投诉量{time}激增，"
     "目前已有{n}起投诉。建议家长暂停给孩子饮用，保留包装与购物凭证以便维权。#青禾牛奶变质#"),
]
BURST_EN_OPEN = ["Breaking:", "Ugh.", "PSA:", "Wow.", "Unreal.", "Parents, heads up:", "Seriously?", "", ""]
BURST_EN_CORE = [
    "Qinghe Dairy milk recall rumours everywhere on Weibo, parents in {city} say kids got sick",
    "spoiled Qinghe {p}, foreign objects in the cartons, and zero response from the company",
    "boycotting Qinghe Dairy until they explain the contaminated {p}",
    "my friend's kid in {city} ended up in hospital after drinking Qinghe milk",
    "Qinghe Dairy is facing lawsuit threats over bad milk batches, stores in {city} are pulling stock",
    "so Qinghe {p} went bad and they stay silent?",
    "{n} families in our building got sick from Qinghe {p} this week",
    "Qinghe's {p} smells rotten straight out of a sealed carton, batch {batch}",
    "Qinghe Dairy customer line has been busy for {n} hours while people report food poisoning",
    "food poisoning reports linked to Qinghe {p} keep piling up in {city}",
]
BURST_EN_CLOSE = ["Terrible if true.", "Disgusting.", "Worst dairy brand, never buying again.", "Scary and infuriating.",
                  "Awful way to treat customers.", "Absolutely horrible.", "Shameful.", "Unacceptable.", ""]
BURST_EN_TAG = ["#QingheRecall", "#BoycottQinghe", "#foodsafety", "", "", "😡", "🤢", "😠"]


# ----------------------------------------------------------------------------- generation
class Generator:
    """Draws the whole week from one seeded RNG; ``run()`` returns the posts, unsorted."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.posts: list[Post] = []

    # --- small helpers
    def pick(self, seq):
        return self.rng.choice(seq)

    def poisson(self, lam: float) -> int:
        threshold, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= threshold:
                return k
            k += 1

    def followers(self) -> int:
        return max(3, int(self.rng.lognormvariate(6.0, 1.6)))

    def zh_user(self) -> str:
        return self.pick(ZH_NAME_A) + self.pick(ZH_NAME_B) + self.pick(ZH_NAME_C)

    def en_user(self) -> str:
        sep = self.pick(["", "_", ".", ""])
        tail = self.pick(["", "", str(self.rng.randint(1, 99)), str(self.rng.randint(1980, 2006))])
        return self.pick(EN_FIRST) + sep + self.pick(EN_WORD) + tail

    def engagement(self, followers: int, boost: float = 1.0) -> tuple[int, int, int]:
        base = max(1.0, followers ** 0.55) * boost
        likes = int(self.rng.expovariate(1.0) * base)
        return int(likes * self.rng.uniform(0.02, 0.3)), int(likes * self.rng.uniform(0.05, 0.4)), likes

    def fill(self, template: str, brand: str | None, zh: bool = True) -> str:
        t = TEXTS.get(brand) if brand else None
        slots = {
            "a": self.pick(t.aliases_zh if zh else t.aliases_en) if t else "",
            "p": self.pick(t.products_zh if zh else t.products_en) if t else "",
            "other": self.pick(OTHER_ZH[brand]) if brand in OTHER_ZH else "",
            "place": self.pick(PLACES), "city": self.pick(CITIES_EN), "store": self.pick(STORES),
            "time": self.pick(TIMES), "who": self.pick(WHO), "who_en": self.pick(["mom", "my flatmate", "the kids", "grandma"]),
            "n": str(self.rng.choice([self.rng.randint(2, 12), self.rng.randint(10, 99), self.rng.randint(100, 999)])),
            "price": str(self.rng.choice([self.rng.randint(9, 39), self.rng.randint(40, 129), self.rng.randint(999, 6999)])
                         if brand == "xinghe" else self.rng.randint(9, 89)),
            "batch": self.pick(BURST_BATCH), "pct": str(self.rng.randint(3, 40)),
            "reporter": self.pick(["王磊", "陈静", "刘洋", "张敏", "赵婷", "孙浩", "周雪", "吴凡"]), "emo": self.pick(ZH_NEU_EMO + ZH_POS_EMO) if zh else self.pick(EN_NEU_EMO),
        }
        return template.format(**slots)

    # --- text builders
    def zh_post(self, brand: str, senti: str) -> str:
        t, r = TEXTS[brand], self.rng
        pool = {"pos": t.pos_zh, "neg": t.neg_zh, "neu": t.neu_zh}[senti]
        opens = {"pos": ZH_POS_OPEN, "neg": ZH_NEG_OPEN, "neu": ZH_NEU_OPEN}[senti]
        closes = {"pos": ZH_POS_CLOSE, "neg": ZH_NEG_CLOSE, "neu": ZH_NEU_CLOSE}[senti]
        emos = {"pos": ZH_POS_EMO, "neg": ZH_NEG_EMO, "neu": ZH_NEU_EMO}[senti]
        parts = []
        if r.random() < 0.55:
            parts.append(self.pick(opens))
        core = self.fill(self.pick(pool), brand)
        if r.random() < 0.35:  # a second sentence of the same tone makes lengths vary a lot
            core += self.pick(["，", "。", "！", "～", "；"]) + self.fill(self.pick(pool), brand)
        parts.append(core)
        if r.random() < 0.45:
            parts.append(self.pick(["，", "。", "！"]) + self.fill(self.pick(
                ["在{place}{store}买的", "{time}在{store}下的单", "{who}推荐的", "第{n}次买了", "坐标{place}",
                 "{time}收到的", "花了{price}块", "用了{n}天", "{who}也这么觉得", "{place}这边都能买到"]), brand))
        if r.random() < 0.5:
            parts.append(self.pick(["，", "。", "！", " "]) + self.pick(closes))
        if r.random() < 0.7:
            parts.append(self.pick(["", " "]) + "".join(self.rng.sample(emos, r.choice([1, 1, 2, 3]))))
        if r.random() < 0.35:
            tag = self.pick(t.tags_zh)
            parts = [tag] + parts if r.random() < 0.5 else parts + [" " + tag]
        if r.random() < 0.12:
            parts.append(" @" + self.zh_user())
        if r.random() < 0.08:
            parts.append(" 📍" + self.pick(PLACES))
        return "".join(parts).strip()

    def en_post(self, brand: str, senti: str) -> str:
        t, r = TEXTS[brand], self.rng
        pool = {"pos": t.pos_en, "neg": t.neg_en, "neu": t.neu_en}[senti]
        core = self.fill(self.pick(pool), brand, zh=False)
        pre = {"pos": ["Wow.", "Honestly,", "Okay so", "Not gonna lie,", "PSA:", "Update:"],
               "neg": ["Ugh.", "Seriously?", "Rant:", "Again?!", "Unbelievable.", "Not happy."],
               "neu": ["Question:", "Quick one:", "FYI", "Hmm,", "So", "Today:"]}[senti]
        post = {"pos": ["Highly recommend!", "10/10", "Great stuff.", "Made my day.", "Love it!", "Big fan now."],
                "neg": ["Never again.", "So disappointed.", "Do better.", "Avoid.", "What a mess.", "Unacceptable."],
                "neu": ["Thoughts?", "Will report back.", "Any tips?", "We'll see.", "Curious.", ""]}[senti]
        emos = {"pos": EN_POS_EMO, "neg": EN_NEG_EMO, "neu": EN_NEU_EMO}[senti]
        parts = []
        if r.random() < 0.35:
            parts.append(self.pick(pre))
        parts.append(core[0].upper() + core[1:])
        if r.random() < 0.3:
            parts.append(self.fill(self.pick(["(day {n})", "in {city}", "via the app", "- {n} yuan", "at the {city} store"]),
                                   brand, zh=False))
        if r.random() < 0.45:
            parts.append(self.pick(post))
        if r.random() < 0.5:
            parts.append(self.pick(emos))
        if r.random() < 0.4:
            parts.append(self.pick(t.tags_en))
        if r.random() < 0.1:
            parts.append("@" + self.en_user())
        return " ".join(p for p in parts if p).strip()

    def news(self, brand: str, senti: str, zh: bool) -> tuple[str, str, str, int]:
        t = TEXTS[brand]
        if zh:
            pool = {"pos": t.news_pos, "neg": t.news_neg, "neu": t.news_neu}[senti]
            title = self.fill(self.pick(pool), brand)
            lead = self.pick(["记者从业内获悉，", "据{place}消息，", "本报讯，", "{time}，", "近日，"])
            body_pool = {
                "pos": ["业内人士认为，这体现了品牌在产品力上的持续投入。", "多位消费者表示对产品品质很满意，愿意继续购买。",
                        "公司负责人表示，将继续坚持品质第一，回馈消费者的信任。", "分析师认为其增长势头良好，市场口碑持续向好。"],
                "neg": ["有消费者表示体验不佳，希望企业尽快改进。", "记者查询发现，相关反映主要集中在售后和价格方面。",
                        "公司客服回应称将逐一核实并改进服务。", "部分消费者对此表示失望，认为性价比下降明显。"],
                "neu": ["公司相关负责人介绍了下一阶段的规划。", "据了解，该项目预计于年内完成。", "具体细节将在后续公告中披露。",
                        "业内人士表示，行业竞争仍较激烈。"],
            }[senti]
            body = self.fill(lead, brand) + title + "。" + "".join(self.rng.sample(body_pool, self.rng.randint(2, 3)))
            body += self.fill(self.pick(["（记者 {reporter}）", "（{place}站）", "", "责任编辑：{reporter}"]), brand)
            outlet, fol = self.pick(OUTLETS_ZH)
        else:
            title = self.fill(self.pick(t.news_en), brand, zh=False)
            extra = self.rng.sample(["Analysts expect the momentum to continue.", "The company said demand remains solid.",
                                     "Shares rose {pct}% on the news.", "Customers have welcomed the move.",
                                     "A spokesperson in {city} declined to give a timeline.", "Rivals have cut prices by {pct}%.",
                                     "The expansion adds about {n} jobs.", "Online reviews have been largely favourable.",
                                     "The firm plans {n} more openings this year."], 2)
            body = title + ". " + " ".join(self.fill(x, brand, zh=False) for x in extra) + " " + self.fill(
                self.pick(["Reporting from {city}.", "More details are expected next quarter.", "(Staff writer, {city})", ""]),
                brand, zh=False)
            outlet, fol = self.pick(OUTLETS_EN)
        return title, body.strip(), outlet, fol

    # --- streams
    def normal_week(self) -> None:
        for spec in BRANDS:
            for day in range(DAYS):
                weekend = day >= 5
                weights = WEEKEND_HOUR_W if weekend else HOUR_W
                total_w = sum(weights)
                daily = spec.per_day * (spec.weekend if weekend else 1.0) * self.rng.uniform(0.9, 1.1)
                for hour in range(24):
                    for _ in range(self.poisson(daily * weights[hour] / total_w)):
                        t = START + timedelta(days=day, hours=hour, seconds=self.rng.randrange(3600))
                        if t > END - timedelta(seconds=60):
                            continue
                        self.posts.append(self.mention(spec, t))

    def mention(self, spec: BrandSpec, t: datetime) -> Post:
        r = self.rng.random()
        senti = "neg" if r < spec.negative else ("pos" if r < spec.negative + spec.positive else "neu")
        c = self.rng.random()
        if c < 0.62:
            text = self.zh_post(spec.id, senti)
            if spec.id in ("qinghe", "xinghe") and _S2T and self.rng.random() < 0.06:  # HK/TW users
                text = _S2T.convert(text)
            fol = self.followers()
            return Post(t, "weibo", text, self.zh_user(), fol, spec.id, senti, engagement=self.engagement(fol))
        if c < 0.69 or c >= 0.985:
            zh = c < 0.69
            title, body, outlet, fol = self.news(spec.id, senti, zh)
            return Post(t, "news", body, outlet, fol, spec.id, senti, title=title,
                        engagement=self.engagement(fol, 0.3))
        fol = self.followers()
        return Post(t, "tweet", self.en_post(spec.id, senti), self.en_user(), fol, spec.id, senti,
                    engagement=self.engagement(fol, 0.6))

    def noise(self) -> None:
        for day in range(DAYS):
            for _ in range(self.rng.randint(20, 30)):
                hour = self.rng.choices(range(24), weights=HOUR_W)[0]
                t = START + timedelta(days=day, hours=hour, seconds=self.rng.randrange(3600))
                if t > END - timedelta(seconds=60):
                    continue
                fol = self.followers()
                if self.rng.random() < 0.7:
                    self.posts.append(Post(t, "weibo", self.fill(self.pick(NOISE_ZH), None), self.zh_user(), fol,
                                           None, "neu", kind="noise", engagement=self.engagement(fol)))
                else:
                    text = " ".join(x for x in (self.fill(self.pick(NOISE_EN), None, zh=False),
                                                  self.fill(self.pick(NOISE_EN_TAIL), None, zh=False), self.pick(EN_NEU_EMO)) if x)
                    self.posts.append(Post(t, "tweet", text, self.en_user(), fol,
                                           None, "neu", kind="noise", engagement=self.engagement(fol)))
            for _ in range(self.rng.randint(1, 3)):  # 阿克米德 is a person, never the coffee brand
                t = START + timedelta(days=day, hours=self.rng.randint(8, 22), seconds=self.rng.randrange(3600))
                fol = self.followers()
                self.posts.append(Post(t, "weibo", self.fill(self.pick(EXCLUDED_ZH), None), self.zh_user(), fol,
                                       None, "neu", kind="excluded", engagement=self.engagement(fol)))

    def burst(self) -> None:
        for i, negatives in enumerate(BURST_NEGATIVES):
            b0 = BURST_START + i * BUCKET
            span = int(min(BUCKET, END - b0).total_seconds())
            for _ in range(negatives):
                t = b0 + timedelta(seconds=self.rng.randrange(span))
                if self.rng.random() < 0.2:
                    fol = self.followers()
                    core = self.fill(self.pick(BURST_EN_CORE), "qinghe", zh=False)
                    opener = self.pick(BURST_EN_OPEN)
                    core = core[0].upper() + core[1:] if not opener or opener.endswith((".", ":")) else core
                    text = " ".join(x for x in (opener, core + ".", self.pick(BURST_EN_CLOSE), self.pick(BURST_EN_TAG)) if x)
                    self.posts.append(Post(t, "tweet", text, self.en_user(), fol, "qinghe", "neg", kind="burst",
                                           engagement=self.engagement(fol, 3)))
                    continue
                text = self.pick(BURST_OPEN) + self.fill(self.pick(BURST_CORE), "qinghe")
                if self.rng.random() < 0.45:
                    text += "。" + self.fill(self.pick(BURST_CORE), "qinghe")
                text += " " + self.pick(BURST_CLOSE)
                if self.rng.random() < 0.3:
                    text += self.fill(self.pick([" 坐标{place}", " {time}发现的", " 已经{n}个小时了", " @" + self.zh_user()]), "qinghe")
                fol = self.followers()
                self.posts.append(Post(t, "weibo", text.strip(), self.zh_user(), fol, "qinghe", "neg", kind="burst",
                                       engagement=self.engagement(fol, 3)))
            for _ in range(max(0, negatives // 5)):  # neutral voices and a few defenders
                senti, tpl = self.pick(BURST_OTHER)
                t = b0 + timedelta(seconds=self.rng.randrange(span))
                fol = self.followers()
                text = (self.pick(["", "转需：", "理性讨论：", "插一句，", "【关注】"]) + self.fill(tpl, "qinghe")
                        + self.fill(self.pick(["", "。{time}看到的", " 坐标{place}", "[思考]", "，{who}让我转给大家",
                                               "。已经问了{n}家店", " #青禾乳业回应#"]), "qinghe"))
                self.posts.append(Post(t, "weibo", text, self.zh_user(), fol, "qinghe", senti, kind="burst",
                                       engagement=self.engagement(fol)))
        # the media / KOL posts land in the last hour; the media outlet also files a news article
        for k, (name, fol, tpl) in enumerate(BURST_KOL):
            t = BURST_START + timedelta(hours=2, minutes=10 + 14 * k, seconds=self.rng.randrange(300))
            self.posts.append(Post(t, "weibo", self.fill(tpl, "qinghe"), name, fol, "qinghe", "neg", kind="burst",
                                   engagement=self.engagement(fol, 8)))
        article = ("{place}多地消费者反映青禾牛奶变质、喝出异物，部分儿童饮用后出现呕吐腹泻等食物中毒症状。记者走访发现，多家超市已将"
                   "{batch}批次产品下架。青禾乳业客服称正在核查，暂未给出召回方案。有消费者表示已向12315投诉，并准备起诉维权。")
        self.posts.append(Post(END - timedelta(seconds=10), "news", self.fill(article, "qinghe"), "城市消费报", 1_450_000,
                               "qinghe", "neg", kind="burst", title="青禾牛奶被指变质 多地超市下架问题批次",
                               engagement=(0, 0, 8800)))
        self.posts.append(Post(END - timedelta(seconds=5), "tweet", "Breaking: Qinghe Dairy pulls milk batches in "
                               "Shanghai stores after reports of spoiled, contaminated cartons; families threaten lawsuit "
                               "and boycott. Awful news for parents #QingheRecall", "asiaconsumerwatch", 950_000,
                               "qinghe", "neg", kind="burst", engagement=(420, 310, 2600)))
        self.posts.append(Post(END, "weibo", "青禾乳业到现在还不公布召回批次？孩子已经住院两天了，维权到底！#青禾牛奶变质# [怒][怒]",
                               "二宝妈妈在合肥", 23_000, "qinghe", "neg", kind="burst", engagement=(310, 520, 2100)))

    def reposts_and_duplicates(self) -> None:
        weibo = [p for p in self.posts if p.channel == "weibo" and p.kind in ("mention", "burst")]
        tweets = [p for p in self.posts if p.channel == "tweet" and p.kind == "mention"]
        extra: list[Post] = []
        for orig in self.rng.sample(weibo, 45):
            t = orig.time + timedelta(minutes=self.rng.randint(1, 180))
            if t > END - timedelta(seconds=30):
                continue
            style = self.rng.random()
            if style < 0.3:
                text = "转发微博"
            elif style < 0.7:
                text = f"//@{orig.author}:{orig.text}"
            else:
                text = f"//@{self.zh_user()}: //@{orig.author}:{orig.text}"
            fol = self.followers()
            extra.append(Post(t, "weibo", text, self.zh_user(), fol, orig.brand, orig.sentiment, kind="repost",
                              engagement=(0, self.rng.randint(0, 3), self.rng.randint(0, 20))))
        for orig in self.rng.sample(tweets, 12):
            t = orig.time + timedelta(minutes=self.rng.randint(1, 120))
            if t <= END - timedelta(seconds=30):
                extra.append(Post(t, "tweet", f"RT @{orig.author}: {orig.text}", self.en_user(), self.followers(),
                                  orig.brand, orig.sentiment, kind="repost"))
        # exact copies (content farms, copy-paste accounts); mostly harmless chatter, one burst post
        pool = [p for p in weibo if p.kind == "mention" and p.sentiment != "neg"]
        for orig in self.rng.sample(pool, 25) + self.rng.sample([p for p in weibo if p.kind == "burst"], 3):
            t = orig.time + timedelta(minutes=self.rng.randint(2, 240))
            if t <= END - timedelta(seconds=30):
                fol = self.followers()
                extra.append(Post(t, "weibo", orig.text, self.zh_user(), fol, orig.brand, orig.sentiment,
                                  kind="duplicate", engagement=(0, 0, self.rng.randint(0, 5))))
        self.posts.extend(extra)

    def spread_apart(self) -> int:
        """Give any distinct post that lands within SimHash distance 3 of an earlier one (24 h) an
        extra neutral detail, so that only the planted reposts and copies are duplicates."""
        fixed = 0
        for _ in range(5):
            pairs = near_duplicates(self.posts)
            if not pairs:
                break
            for _, later in pairs:
                zh = not later.text.isascii() and later.channel != "tweet"
                tail = self.pick(["（{n}）", " 坐标{place}", "，{time}", " @" + self.zh_user()] if zh
                                 else [" ({n})", " in {city}", " - {n}", " @" + self.en_user()])
                later.text += self.fill(tail, later.brand, zh=zh)
                fixed += 1
        return fixed

    def run(self) -> list[Post]:
        self.normal_week()
        self.noise()
        self.burst()
        self.fixed = self.spread_apart()
        self.reposts_and_duplicates()
        return self.posts


# ----------------------------------------------------------------------------- output files
def _digits(seed_text: str, n: int) -> str:
    return str(int(hashlib.sha1(seed_text.encode()).hexdigest(), 16))[:n]


def render(posts: list[Post], rng: random.Random) -> dict[str, str]:
    """Turn the posts into the three export files' text, each sorted by time with unique ids."""
    posts = sorted(posts, key=lambda p: (p.time, p.channel, p.text))
    weibo, tweets = io.StringIO(), io.StringIO()
    news = io.StringIO()
    writer = csv.writer(news, lineterminator="\n")
    writer.writerow(["编号", "标题", "正文", "作者", "发布时间", "链接", "互动量"])
    mid, tid, nid = 5_041_000_000_000_000, 2_029_000_000_000_000_000, 0
    for p in posts:
        if p.channel == "weibo":
            mid += rng.randint(1_000, 900_000)
            reposts, comments, likes = p.engagement
            rec = {"mid": str(mid), "text": p.text, "user": p.author, "followers": p.followers,
                   "created_at": p.time.isoformat(), "url": f"https://weibo.com/{_digits(p.author, 10)}/{mid}",
                   "reposts": reposts, "comments": comments, "likes": likes}
            weibo.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        elif p.channel == "tweet":
            tid += rng.randint(10**12, 9 * 10**13)
            rec = {"id": str(tid), "text": p.text, "author": p.author, "followers": p.followers,
                   "time": p.time.isoformat(), "url": f"https://x.com/{p.author}/status/{tid}",
                   "engagement": sum(p.engagement)}
            tweets.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            nid += 1
            local = p.time.astimezone(CST)
            writer.writerow([f"BPN{local:%Y%m%d}{nid:05d}", p.title, p.text, p.author, f"{local:%Y-%m-%d %H:%M:%S}",
                             f"https://news.example.com/{local:%Y/%m%d}/{nid:05d}.html", sum(p.engagement)])
    readme = (
        "# Demo data (generated; do not edit by hand)\n\n"
        "Written by `scripts/make_demo_data.py` (seed %d): one fictional week, Mon 2026-03-02 to Sun 2026-03-08\n"
        "(China time), of mentions of three fictional brands, ending inside a negative crisis burst for\n"
        "青禾乳业 (qinghe). `config/demo.yaml` replays these files with their timestamps shifted so the newest\n"
        "record is \"now\". Regenerate with `.venv/bin/python scripts/make_demo_data.py`; verify with `--check`.\n\n"
        "- `weibo.jsonl`: Weibo-style posts (mid, text, user, followers, created_at, url, reposts, comments, likes)\n"
        "- `news.csv`: a listening tool's news export (编号,标题,正文,作者,发布时间,链接,互动量), China local time\n"
        "- `tweets.jsonl`: English posts (id, text, author, followers, time, url, engagement)\n\n"
        "All names, accounts, texts and links are invented; any resemblance to real ones is accidental.\n" % SEED
    )
    return {"weibo.jsonl": weibo.getvalue(), "news.csv": news.getvalue(), "tweets.jsonl": tweets.getvalue(),
            "README.md": readme}


# ----------------------------------------------------------------------------- analysis
def simhash(text: str) -> int:
    norm = "".join(text.lower().split())
    grams = [norm[i:i + 3] for i in range(max(1, len(norm) - 2))]
    acc = [0] * 64
    for g in grams:
        h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            acc[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if acc[bit] > 0)


def near_duplicates(posts: list[Post], window: timedelta = timedelta(hours=24), max_dist: int = 3) -> list[tuple[Post, Post]]:
    distinct = sorted((p for p in posts if p.kind not in ("repost", "duplicate")), key=lambda p: p.time)
    hashes = [simhash(p.text) for p in distinct]
    pairs, lo = [], 0
    for i, p in enumerate(distinct):
        while distinct[lo].time < p.time - window:
            lo += 1
        for j in range(lo, i):
            if (hashes[i] ^ hashes[j]).bit_count() <= max_dist:
                pairs.append((distinct[j], p))
    return pairs


def bucket_counts(times: list[datetime], phase_min: int) -> Counter:
    origin = START + timedelta(minutes=phase_min)
    return Counter(int((t - origin) // BUCKET) for t in times)


def seasonal_baseline(times: list[datetime]) -> dict[tuple[int, int], float]:
    """Baseline negatives per 15-min bucket for (day, hour): median over previous days of that hour's
    negatives / 4, floored at 1.0 (day 0 has no history and gets the floor)."""
    per_hour = Counter(((t - START).days, t.astimezone(CST).hour) for t in times)
    base = {}
    for d in range(DAYS):
        for h in range(24):
            prev = [per_hour[(dd, h)] / 4 for dd in range(d)]
            base[(d, h)] = max(1.0, statistics.median(prev)) if prev else 1.0
    return base


def ratio_scan(times: list[datetime], base_times: list[datetime], until: datetime) -> tuple[float, int, str]:
    """Largest negatives/baseline and largest count over every 15-min bucket (all 1-minute phases)
    that ends by ``until``."""
    base = seasonal_baseline(base_times)
    best_ratio, best_count, where = 0.0, 0, ""
    for phase in range(15):
        origin = START + timedelta(minutes=phase)
        for idx, n in bucket_counts(times, phase).items():
            b0 = origin + idx * BUCKET
            if b0 < START or b0 + BUCKET > until + BUCKET:
                continue
            ratio = n / base[((b0 - START).days, b0.hour)]
            if ratio > best_ratio or (ratio == best_ratio and n > best_count):
                best_ratio, where = ratio, f"{b0:%a %m-%d %H:%M}"
            best_count = max(best_count, n)
    return best_ratio, best_count, where


def load_plan_levels() -> list[dict]:
    try:
        import yaml
    except ImportError:  # pragma: no cover
        return []
    if not PLAN.exists():
        return []
    return list(yaml.safe_load(PLAN.read_text(encoding="utf-8")).get("levels") or [])


def summarize(posts: list[Post], files: dict[str, str]) -> bool:
    """Print the summary; return False when a property the demo relies on does not hold."""
    ok = True
    kinds = Counter(p.kind for p in posts)
    channels = Counter(p.channel for p in posts)
    zh = sum(1 for p in posts if p.channel == "weibo" or (p.channel == "news" and not p.title.isascii()))
    print(f"records: {len(posts)}  by file: {dict(channels)}  Chinese share: {zh / len(posts):.0%}")
    print(f"by kind: {dict(kinds)}  (reposts, duplicates, noise and 阿克米德 posts must be dropped by nlp)")
    size = sum(len(v.encode()) for v in files.values())
    print(f"total size: {size / 1e6:.2f} MB")
    counted = [p for p in posts if p.kind in ("mention", "burst")]
    print("\nmentions per brand per day (Mon..Sun), negative share (normal week / with burst):")
    for spec in BRANDS:
        mine = [p for p in counted if p.brand == spec.id]
        per_day = Counter((p.time - START).days for p in mine)
        normal = [p for p in mine if p.kind == "mention"]
        neg_n = sum(p.sentiment == "neg" for p in normal) / len(normal)
        neg_all = sum(p.sentiment == "neg" for p in mine) / len(mine)
        print(f"  {spec.id:7s} total {len(mine):4d}  days {[per_day[d] for d in range(DAYS)]}  "
              f"negative {neg_n:.1%} / {neg_all:.1%}")

    print("\nqinghe burst, negatives per 15-min bucket (other brands' negatives in the same buckets):")
    negs = {s.id: [p.time for p in counted if p.brand == s.id and p.sentiment == "neg"] for s in BRANDS}
    row = []
    for i in range(len(BURST_NEGATIVES)):
        b0, b1 = BURST_START + i * BUCKET, BURST_START + (i + 1) * BUCKET
        q = sum(b0 <= t < b1 for t in negs["qinghe"])
        others = "/".join(str(sum(b0 <= t < b1 for t in negs[b])) for b in ("xinghe", "acme"))
        row.append(f"{b0:%H:%M} {q:2d} ({others})")
    print("  " + "  ".join(row))
    trailing = sum(END - BUCKET < t <= END for t in negs["qinghe"])
    last_complete = min(
        sum(b0 <= t < b0 + BUCKET for t in negs["qinghe"])
        for b0 in (END - BUCKET - timedelta(minutes=m) for m in range(15))
    )
    print(f"  trailing 15 min at the newest record: {trailing} negatives; worst-phase last complete bucket: {last_complete}")

    print("\nmax negatives-per-bucket / seasonal baseline (median same hour on previous days, floor 1.0), all phases:")
    normal_max_ratio, normal_max_count = 0.0, 0
    for spec in BRANDS:
        normal_times = [p.time for p in counted if p.brand == spec.id and p.sentiment == "neg" and p.kind == "mention"]
        until = BURST_START if spec.id == "qinghe" else END
        ratio, count, where = ratio_scan([t for t in normal_times if t < until], normal_times, until)
        normal_max_ratio, normal_max_count = max(normal_max_ratio, ratio), max(normal_max_count, count)
        print(f"  {spec.id:7s} normal week: max ratio {ratio:.1f} (at {where}), max negatives in a bucket {count}")
    base = seasonal_baseline([p.time for p in counted if p.brand == "qinghe" and p.sentiment == "neg" and p.kind == "mention"])
    burst_base = base[(DAYS - 1, 23)]
    print(f"  qinghe burst: baseline at Sun 23h {burst_base:.2f}; ratio trailing {trailing / burst_base:.1f}, "
          f"worst-phase last complete bucket {last_complete / burst_base:.1f}")

    qinghe_all = [p.time for p in counted if p.brand == "qinghe"]
    burst_share = sum(END - BUCKET < t <= END for t in negs["qinghe"]) / sum(END - BUCKET < t <= END for t in qinghe_all)
    levels = load_plan_levels()
    if levels:
        print("\nplan thresholds vs data (config/demo_plan.yaml):")
        for lv in levels:
            if not lv.get("when"):
                print(f"  {lv['id']:8s} reached by escalation only")
                continue
            w = lv["when"]
            spike, floor = float(w.get("negative_spike", 0)), int(w.get("min_negative", 0))
            share = float(w.get("negative_share", 0))
            print(f"  {lv['id']:8s} negative_spike {spike:.1f} min_negative {floor} negative_share {share:.2f}")
            print(f"           normal week (max ratio {normal_max_ratio:.1f}, max count {normal_max_count}): stays below by "
                  f"x{spike / normal_max_ratio:.2f} on the ratio and x{floor / normal_max_count:.2f} on the floor (both must hold)")
            print(f"           burst (worst-phase last bucket {last_complete}, {last_complete / burst_base:.1f}x, share "
                  f"{burst_share:.0%}): exceeds by x{last_complete / burst_base / spike:.2f} on the ratio and "
                  f"x{last_complete / floor:.2f} on the floor")
            if normal_max_ratio >= spike and normal_max_count >= floor:
                print("  !! a normal-week bucket would fire this level")
                ok = False
        crisis = [lv for lv in levels if lv.get("when")][-1]["when"]  # escalation-only levels have no `when`
        if (last_complete < int(crisis.get("min_negative", 0)) or burst_share < float(crisis.get("negative_share", 0))
                or last_complete / burst_base < float(crisis.get("negative_spike", 0))):
            print("  !! the burst does not reach the most severe level")
            ok = False

    pairs = near_duplicates(posts)
    print(f"\nnear-duplicate pairs among distinct posts (SimHash char 3-grams, distance <= 3, 24 h): {len(pairs)}")
    for a, b in pairs[:5]:
        print(f"  {a.text[:50]!r} ~ {b.text[:50]!r}")
    ids_unique = all(len(set(_ids(name, text))) == len(_ids(name, text)) for name, text in files.items() if name != "README.md")
    print(f"ids unique per file: {ids_unique}")
    return ok and not pairs and ids_unique


def _ids(name: str, text: str) -> list[str]:
    if name.endswith(".csv"):
        return [row["编号"] for row in csv.DictReader(io.StringIO(text))]
    key = "mid" if name.startswith("weibo") else "id"
    return [json.loads(line)[key] for line in text.splitlines()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: config/demo)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the files on disk differ")
    args = parser.parse_args(argv)
    gen = Generator(SEED)
    posts = gen.run()
    files = render(posts, random.Random(SEED + 1))
    if args.check:
        stale = [n for n, text in files.items() if not (args.out / n).exists()
                 or (args.out / n).read_text(encoding="utf-8") != text]
        print("up to date" if not stale else f"stale: {', '.join(stale)} (run scripts/make_demo_data.py)")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8", newline="")
    ok = summarize(posts, files)
    print(f"\nwrote {', '.join(files)} to {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
