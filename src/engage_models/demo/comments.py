"""Bank of synthetic survey free-text comments used by the simulator.

The simulator attaches a short free-text comment to each generated NPS (0-10)
or CSAT (1-5) survey response. This module holds the pool of comments it draws
from, written independently in English (``"en"``) and Japanese (``"ja"``) for
a B2B SaaS analytics and collaboration product. Comments are grouped by
sentiment category so that the text fits the score: ``"positive"`` for
promoters (NPS 9-10) and satisfied CSAT respondents (4-5), ``"neutral"`` for
passives (NPS 7-8) and CSAT 3, and ``"negative"`` for detractors (NPS 0-6) and
CSAT 1-2. Each comment is a ``(theme, text)`` pair whose theme is one of
:data:`THEMES`. The module is pure data plus the :func:`comment_bank` accessor
and has no third-party dependencies.
"""

from __future__ import annotations

__all__ = ["THEMES", "COMMENTS", "comment_bank"]

THEMES: tuple[str, ...] = (
    "ease_of_use",
    "support",
    "price",
    "features",
    "onboarding",
    "performance",
    "reporting",
    "integration",
)

COMMENTS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "en": {
        "positive": (
            ("ease_of_use", "Very intuitive, our team picked it up in a day."),
            ("ease_of_use", "Building a new dashboard takes minutes instead of hours"),
            ("ease_of_use", "Clean interface. Even our execs use it without asking for help."),
            ("support", "Support answered my ticket within an hour and actually fixed the problem."),
            ("support", "Our customer success manager is fantastic, always proactive with suggestions"),
            ("support", "Every support ticket I've opened was resolved quickly and politely."),
            ("price", "Price & value are fair for what we get."),
            ("price", "Worth every penny per seat, honestly."),
            ("price", "Pricing is transparent and the annual plan saved us a lot"),
            ("features", "The scheduled reports feature alone justifies the subscription."),
            ("features", "Love the new cohort filters on dashboards"),
            ("features", "Has everything we need, from custom metrics to role-based permissions."),
            ("onboarding", "Onboarding sessions were well structured and got us live in two weeks."),
            ("onboarding", "Great onboarding. The trainer tailored examples to our own data"),
            ("onboarding", "Smooth rollout, our CSM walked every team through setup."),
            ("performance", "Dashboards load fast even with millions of rows."),
            ("performance", "Quick and reliable, I can't remember the last outage"),
            ("performance", "Exports that used to take minutes now finish in seconds."),
            ("reporting", "Reports look polished enough to send straight to our board."),
            ("reporting", "Easy to share reports with clients, they love them"),
            ("reporting", "Drill-down reporting finally lets us answer questions without waiting on the data team."),
            ("integration", "The Salesforce integration just works and keeps our pipeline data in sync."),
            ("integration", "Slack alerts are super handy for the whole team"),
            ("integration", "Well documented API, we had our warehouse connected in an afternoon."),
        ),
        "neutral": (
            ("ease_of_use", "Mostly easy to use, though some settings are buried in menus."),
            ("ease_of_use", "Fine once you learn it, but the learning curve is real"),
            ("ease_of_use", "Works ok. New users still need a bit of hand-holding."),
            ("support", "Support is helpful but responses can take a couple of days."),
            ("support", "Our CSM is nice, we just don't hear from them very often"),
            ("support", "Tickets get resolved eventually, sometimes after a few back-and-forths."),
            ("price", "Price is about average for the market."),
            ("price", "A bit pricey per seat for occasional users"),
            ("price", "Decent value, but a cheaper viewer-only seat would help."),
            ("features", "Covers the basics well. Missing some advanced forecasting features."),
            ("features", "Good feature set, would like more chart types"),
            ("features", "Solid product overall, though new features seem to ship slowly."),
            ("onboarding", "Onboarding was okay but felt a little generic."),
            ("onboarding", "Setup took longer than we expected, though we got there"),
            ("onboarding", "The training sessions were useful, the docs less so."),
            ("performance", "Usually fast enough, occasionally slow on big dashboards."),
            ("performance", "Performance is acceptable, nothing special"),
            ("performance", "Some exports take a while around month end."),
            ("reporting", "Reports do the job but formatting options are limited."),
            ("reporting", "Would be nice to schedule reports per timezone"),
            ("reporting", "Reporting is fine for internal use, less so for client-facing decks."),
            ("integration", "The Salesforce sync works, but custom objects aren't supported yet."),
            ("integration", "Slack integration is handy, the notifications are a bit noisy though"),
            ("integration", "API is usable, rate limits are tight for our volume."),
        ),
        "negative": (
            ("ease_of_use", "Confusing navigation, I can never find the report I built last week."),
            ("ease_of_use", "Too many clicks to do simple things"),
            ("ease_of_use", "The interface is cluttered and half our team stopped using it."),
            ("support", "Opened a support ticket two weeks ago and still no real answer."),
            ("support", "We have had three different customer success managers this year. No continuity."),
            ("support", "Support keeps sending canned replies instead of fixing the issue"),
            ("price", "Way too expensive per seat for what it does."),
            ("price", "The price increase at renewal was not acceptable"),
            ("price", "Paying for 50 seats when only 10 people log in. Hard to justify."),
            ("features", "Key features we were promised during the sale are still not on the roadmap."),
            ("features", "No proper permissions model, which is a dealbreaker for us"),
            ("features", "Basic things like annotations on charts are missing."),
            ("onboarding", "Onboarding was rushed and nobody on our team felt ready."),
            ("onboarding", "Took three months to get live. Far too long"),
            ("onboarding", "The onboarding sessions kept getting rescheduled."),
            ("performance", "Dashboards are painfully slow, often over 30 seconds to load."),
            ("performance", "Frequent timeouts when exporting large reports"),
            ("performance", "The app freezes whenever more than a few filters are applied."),
            ("reporting", "Reports often show numbers that do not match our source data."),
            ("reporting", 'The "export" button produces broken CSV files half the time'),
            ("reporting", "Cannot customise report layouts, so we rebuild everything in Excel."),
            ("integration", "Salesforce integration breaks every few weeks and data goes missing."),
            ("integration", "Slack alerts stopped working and nobody could tell us why"),
            ("integration", "The API is poorly documented and missing key endpoints."),
        ),
    },
    "ja": {
        "positive": (
            ("ease_of_use", "操作が直感的で、マニュアルを見なくても使えました。"),
            ("ease_of_use", "画面がシンプルで分かりやすい。"),
            ("ease_of_use", "現場のメンバーでもすぐに操作を覚えられました。"),
            ("support", "サポートの対応が早くて助かっています。"),
            ("support", "担当者の方がいつも丁寧に相談に乗ってくれます。"),
            ("support", "問い合わせへの回答が的確で、すぐに問題が解決しました。"),
            ("price", "機能の充実度を考えると料金は妥当だと思います。"),
            ("price", "1ユーザーあたりの価格が手頃で導入しやすかった。"),
            ("price", "年間契約の割引があり、コストを抑えられています。"),
            ("features", "必要な機能が一通りそろっていて満足しています。"),
            ("features", "フィルター機能が便利で、分析の幅が広がりました。"),
            ("features", "アップデートのたびに新しい機能が追加されるのが嬉しいです。"),
            ("onboarding", "導入支援が手厚く、スムーズに立ち上げられました。"),
            ("onboarding", "オンボーディングのセッションが分かりやすかった。"),
            ("onboarding", "初期設定を担当者の方が一緒に進めてくれたので安心でした。"),
            ("performance", "ダッシュボードの表示が速く、ストレスがありません。"),
            ("performance", "大量のデータでも動作が軽いです。"),
            ("performance", "エクスポートが数秒で終わるので業務が効率化しました。"),
            ("reporting", "レポートをそのまま経営会議の資料に使えて便利です。"),
            ("reporting", "定期レポートの自動配信がとても役立っています。"),
            ("reporting", "レポートの見た目がきれいで、社内でも好評です。"),
            ("integration", "Salesforceとの連携がスムーズで、二重入力がなくなりました。"),
            ("integration", "Slack連携で通知が届くので、対応漏れが減りました。"),
            ("integration", "APIが使いやすく、社内システムとの連携も簡単でした。"),
        ),
        "neutral": (
            ("ease_of_use", "基本的な操作は分かりやすいが、設定画面が少し複雑。"),
            ("ease_of_use", "慣れれば使いやすいですが、最初は戸惑いました。"),
            ("ease_of_use", "メニューの場所が分かりにくいことがあります。"),
            ("support", "サポートは丁寧ですが、回答までに時間がかかることがあります。"),
            ("support", "担当者との定例ミーティングがもう少しあると嬉しいです。"),
            ("support", "サポートの対応は普通です。特に不満はありません。"),
            ("price", "料金は相場並みだと思います。"),
            ("price", "閲覧だけのユーザーにも同じ料金がかかるのは少し割高に感じます。"),
            ("price", "価格に見合った内容ではあるが、もう少し安いプランがあれば検討しやすい。"),
            ("features", "基本的な機能は十分ですが、予測分析の機能がほしいです。"),
            ("features", "グラフの種類がもう少し増えると助かります。"),
            ("features", "機能面は概ね満足。細かいカスタマイズができると更に良い。"),
            ("onboarding", "導入時の説明は分かりやすかったが、資料が少なかった。"),
            ("onboarding", "導入までに想定より時間がかかりました。"),
            ("onboarding", "トレーニングは役立ったものの、内容がやや一般的でした。"),
            ("performance", "普段は問題ないが、月末はダッシュボードの表示が遅くなる。"),
            ("performance", "動作速度は許容範囲内です。"),
            ("performance", "データ量が多いレポートは読み込みに少し時間がかかります。"),
            ("reporting", "レポートは使えるが、レイアウトの自由度が低い。"),
            ("reporting", "レポートの配信時間を細かく設定できるとありがたいです。"),
            ("reporting", "社内向けのレポートには十分ですが、顧客向けにはもう一工夫ほしい。"),
            ("integration", "Salesforce連携は動いていますが、カスタム項目に対応していないのが残念です。"),
            ("integration", "Slackの通知が多すぎるので、絞り込めるようにしてほしい。"),
            ("integration", "APIの利用制限がやや厳しく感じます。"),
        ),
        "negative": (
            ("ease_of_use", "操作が分かりにくく、社内でほとんど使われていません。"),
            ("ease_of_use", "画面がごちゃごちゃしていて、目的の機能にたどり着けない。"),
            ("ease_of_use", "簡単な作業でもクリック数が多すぎます。"),
            ("support", "サポートに問い合わせても一週間以上返事がありません。"),
            ("support", "担当者が頻繁に変わり、毎回同じ説明をさせられる。"),
            ("support", "サポートの回答がテンプレートばかりで問題が解決しない。"),
            ("price", "利用頻度に対して料金が高すぎます。"),
            ("price", "更新時の値上げ幅が大きく、継続を検討しています。"),
            ("price", "使っていないライセンスにも費用がかかるのは納得できない。"),
            ("features", "契約時に説明された機能がまだ実装されていません。"),
            ("features", "権限管理の機能が弱く、全社展開できない。"),
            ("features", "必要な機能が足りず、結局Excelで作業しています。"),
            ("onboarding", "導入支援が不十分で、立ち上げに苦労しました。"),
            ("onboarding", "オンボーディングの日程が何度も変更され、稼働が遅れた。"),
            ("onboarding", "導入後のフォローがなく、Q&Aページも情報が少ないため自己解決できません。"),
            ("performance", "ダッシュボードの動作が重い。"),
            ("performance", "エクスポートの途中でタイムアウトすることが多いです。"),
            ("performance", "フィルターをかけるたびに画面が固まります。"),
            ("reporting", "レポートの数値が元データと合わないことがあり、信頼できません。"),
            ("reporting", "レポートのレイアウトを変更できず、毎回作り直しています。"),
            ("reporting", "CSVで出力すると文字化けすることがあり困っています。"),
            ("integration", "Salesforceとの連携が頻繁に切れ、データが欠損します。"),
            ("integration", "Slack連携の通知が突然届かなくなり、原因も教えてもらえなかった。"),
            ("integration", "APIのドキュメントが不十分で、連携の開発に時間がかかった。"),
        ),
    },
}


def comment_bank(lang: str, category: str) -> tuple[tuple[str, str], ...]:
    """Return the (theme, text) pairs for a language and a sentiment category.

    Parameters
    ----------
    lang : str
        Language code, one of ``"en"`` or ``"ja"``.
    category : str
        Sentiment category, one of ``"positive"``, ``"neutral"`` or
        ``"negative"``.

    Returns
    -------
    tuple of tuple of (str, str)
        The ``(theme, text)`` pairs for that language and category.

    Raises
    ------
    ValueError
        If `lang` or `category` is unknown; the message names the allowed
        values.
    """
    if lang not in COMMENTS:
        allowed = ", ".join(repr(k) for k in COMMENTS)
        raise ValueError(f"unknown lang {lang!r}; expected one of {allowed}")
    by_category = COMMENTS[lang]
    if category not in by_category:
        allowed = ", ".join(repr(k) for k in by_category)
        raise ValueError(
            f"unknown category {category!r}; expected one of {allowed}"
        )
    return by_category[category]
