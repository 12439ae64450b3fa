"""Every string the web app shows, in Chinese (the default) and English, in one place.

Templates call ``_('key', **values)``; Python calls ``t('key', **values)``. A key missing in English falls back
to Chinese; a key missing altogether shows ``default`` (or the key). Category and reject-reason names are
data (they go into the ledger in Chinese): English pages show them in Chinese with a gloss.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, session

__all__ = ["LANGUAGES", "SHORTCUTS", "STRINGS", "install", "t"]

LANGUAGES = {"zh": "中文", "en": "English"}

# (key as shown, string key) for the help overlay; app.js implements them
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("J", "key.next"),
    ("K", "key.prev"),
    ("Enter", "key.open"),
    ("N", "key.claim"),
    ("C", "key.confirm"),
    ("R", "key.reject"),
    ("1–9", "key.reason"),
    ("E", "key.escalate"),
    ("Esc", "key.close"),
    ("Ctrl+Enter", "key.submit"),
    ("?", "key.help"),
)

# key: (中文, English)
STRINGS: dict[str, tuple[str, str]] = {
    "app.name": ("adclear 违法集资广告审核", "adclear ad review"),
    "nav.queue": ("待审队列", "Queue"),
    "nav.escalations": ("上报处理", "Escalations"),
    "nav.ledger": ("清理台账", "Ledger"),
    "nav.audit": ("审计日志", "Audit log"),
    "nav.export": ("导出处置清单", "Export"),
    "nav.users": ("用户", "Users"),
    "nav.help": ("快捷键", "Keys"),
    "nav.logout": ("退出登录", "Log out"),
    "nav.password": ("修改密码", "Change password"),
    "password.title": ("修改密码", "Change password"),
    "password.current": ("当前密码", "Current password"),
    "password.new": ("新密码", "New password"),
    "password.again": ("再次输入新密码", "New password again"),
    "password.submit": ("修改密码", "Change password"),
    "password.hint": (
        "新密码至少 {n} 位，不能包含用户名，不能过于常见。修改后，您在所有设备上的登录都会退出，需要用新密码重新登录。",
        "At least {n} characters, not containing your user name, not a common password. Afterwards every session of "
        "yours ends, on every device: log in again with the new password.",
    ),
    "password.mismatch": ("两次输入的新密码不一致。", "The two new passwords differ."),
    "password.wrong_current": ("当前密码不正确。", "The current password is wrong."),
    "password.changed": ("密码已修改，请用新密码重新登录。", "Password changed: log in with the new one."),
    "nav.back_to_queue": ("返回待审队列", "Back to the queue"),
    "role.reviewer": ("审核员", "reviewer"),
    "role.supervisor": ("主管", "supervisor"),
    "role.admin": ("管理员", "admin"),
    # login
    "login.title": ("登录", "Log in"),
    "login.name": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.bad_password": ("用户名或密码错误。", "Wrong user name or password."),
    "login.locked_user": (
        "该账号密码错误次数过多，已暂时锁定，请于 {when} 后重试。",
        "Too many wrong passwords for this account: try again after {when}.",
    ),
    "login.locked_address": (
        "本机登录失败次数过多，已暂时锁定，请于 {when} 后重试。",
        "Too many failed logins from this address: try again after {when}.",
    ),
    "login.disabled": ("该账号已停用，请联系管理员。", "This account is disabled: ask an administrator."),
    "login.timed_out": ("长时间未操作，会话已超时，请重新登录。", "Your session timed out: log in again."),
    "login.logged_out": ("已退出登录。", "Logged out."),
    # errors
    "err.login_needed": ("请先登录。", "Log in first."),
    "err.csrf": (
        "请求缺少有效的安全令牌（可能页面已过期），操作未执行。请刷新页面后重试。",
        "The request had no valid security token (the page may be stale); nothing was done. Reload and retry.",
    ),
    "err.role": ("此页面需要{role}权限。", "This page needs the {role} role."),
    "err.forbidden": ("无权访问此页面。", "You may not open this page."),
    "err.not_found": ("页面不存在。", "No such page."),
    "err.bad_request": ("请求无效。", "Bad request."),
    "err.bad_number": (
        "参数“{name}”无效：须为 1 至 9223372036854775807 的整数。",
        "The parameter '{name}' is not valid: it must be a whole number from 1 to 9223372036854775807.",
    ),
    "err.bad_date": (
        "参数“{name}”无效：须为 2000-01-01 至 2099-12-31 之间的日期（YYYY-MM-DD）。",
        "The parameter '{name}' is not valid: it must be a date (YYYY-MM-DD) from 2000-01-01 to 2099-12-31.",
    ),
    "err.database": (
        "数据库暂时无法使用，操作未执行：{detail}",
        "The database cannot be used now; nothing was done: {detail}",
    ),
    "err.too_big": ("提交的内容过大。", "What was sent is too large."),
    "err.held": ("该广告已被 {who} 认领，请处理其他广告。", "{who} holds this ad: pick another one."),
    "err.decided": (
        "该广告已经处理过；如需更正，请联系主管。",
        "This ad was already decided; ask a supervisor to correct it.",
    ),
    "err.escalated": ("该广告已上报主管，等待主管处理。", "This ad is escalated and waits for a supervisor."),
    "err.not_claimable": ("该广告当前不在待审队列中，无法认领。", "This ad is not waiting in the queue."),
    "err.bad_choice": ("选项无效，请从列表中选择。", "Not one of the choices offered."),
    "err.reason_needed": ("请填写认定理由。", "Give a reason."),
    "err.note_needed": ("请填写说明。", "Write a note."),
    "err.refused": ("操作未执行：{detail}", "Not done: {detail}"),
    # queue
    "queue.counts": ("队列统计", "Queue counts"),
    "queue.open": ("条待审", "waiting"),
    "queue.flag": ("疑似违法", "flag"),
    "queue.watch": ("可疑", "watch"),
    "queue.claimed": ("已认领", "claimed"),
    "queue.mine": ("我", "mine"),
    "queue.escalated": ("已上报", "escalated"),
    "queue.oldest": ("最久等待", "oldest waits"),
    "queue.claim_next": ("领取下一条", "Claim next"),
    "queue.filters": ("筛选", "Filters"),
    "queue.nothing": ("没有符合条件的待审广告。", "Nothing waits for review here."),
    "queue.empty_claim": ("队列中没有可领取的广告。", "Nothing left to claim."),
    "queue.done": ("已处理完队列中的广告。", "The queue is done."),
    "f.platform": ("平台", "Platform"),
    "f.site": ("站点", "Site"),
    "f.source": ("来源类型", "Source"),
    "f.category": ("涉嫌类型", "Category"),
    "f.band": ("分数段", "Score band"),
    "f.state": ("状态", "State"),
    "f.from": ("发现日期自", "Found from"),
    "f.to": ("至", "to"),
    "f.all": ("全部", "all"),
    "f.apply": ("筛选", "Filter"),
    "f.clear": ("清除筛选", "Clear"),
    "band.high": ("高（疑似，≥8 分）", "high (flag, ≥ 8)"),
    "band.mid": ("中（疑似，5–8 分）", "medium (flag, 5–8)"),
    "band.low": ("低（疑似，<5 分）", "low (flag, < 5)"),
    "band.watch": ("可疑（低优先级）", "watch (low priority)"),
    "state.pending": ("待领取", "free"),
    "state.claimed": ("已被认领", "claimed"),
    "state.mine": ("我认领的", "mine"),
    "source.classifieds": ("分类信息网站", "classifieds"),
    "source.social": ("社交平台", "social"),
    "source.forum": ("论坛", "forum"),
    "q.score": ("结论/分数", "Verdict"),
    "q.category": ("涉嫌类型", "Category"),
    "q.title": ("标题", "Title"),
    "q.untitled": ("（无标题）", "(no title)"),
    "q.platform": ("平台/站点", "Platform"),
    "q.found": ("发现时间", "Found"),
    "q.waiting": ("等待", "Waiting"),
    "q.state": ("状态", "State"),
    "q.claimed_by": ("{who} 认领至 {until}", "{who} until {until}"),
    "label.flag": ("疑似违法", "flag"),
    "label.watch": ("可疑", "watch"),
    "label.clear": ("未见特征", "clear"),
    "pager.prev": ("上一页", "Previous"),
    "pager.next": ("下一页", "Next"),
    "pager.page": ("第 {n} 页", "page {n}"),
    "pager.older": ("更早", "Older"),
    # ad
    "ad.title": ("广告 #{id}", "Ad #{id}"),
    "ad.prev": ("上一条", "previous"),
    "ad.next": ("下一条", "next"),
    "ad.decided": ("该广告已处理，见下方处理记录。", "Decided: see the history below."),
    "ad.escalated_banner": ("已由 {who} 于 {when} 上报主管", "Escalated by {who} at {when}"),
    "ad.claimed_by_you": ("你已认领此广告，租约至 {until}。", "You hold this ad until {until}."),
    "ad.claimed_by_other": ("{who} 正在处理此广告（至 {until}）。", "{who} holds this ad until {until}."),
    "ad.unclaimed": ("此广告未被认领。", "Nobody holds this ad."),
    "ad.claim": ("认领", "Claim"),
    "ad.release": ("放回队列", "Release"),
    "ad.released": ("广告 #{id} 已放回队列。", "Ad #{id} is back in the queue."),
    "ad.confirmed": ("广告 #{id} 已确认违法（台账 {seqs}）。", "Ad #{id} confirmed (ledger {seqs})."),
    "ad.rejected": ("广告 #{id} 已驳回（台账 {seqs}）。", "Ad #{id} rejected (ledger {seqs})."),
    "ad.escalated": ("广告 #{id} 已上报主管。", "Ad #{id} escalated to a supervisor."),
    "ad.stale": (
        "分类后广告内容有变化，规则命中 {hits} 未能标注。",
        "The ad changed since it was classified: hits {hits} are not marked.",
    ),
    "ad.platform": ("平台", "Platform"),
    "ad.url": ("链接", "URL"),
    "ad.url_note": ("（仅显示，不链接：勿在本机直接打开涉案网站）", "(shown, not linked: do not open it from here)"),
    "ad.author": ("发布者", "Author"),
    "ad.posted": ("发布时间", "Posted"),
    "ad.seen": ("发现", "Seen"),
    "ad.sightings": ("监测 {n} 次", "{n} sightings"),
    "ad.contacts": ("联系方式", "Contacts"),
    "ad.contact_kind": ("类型", "Kind"),
    "ad.contact_value": ("号码/账号", "Value"),
    "ad.contact_others": ("其他广告", "Other ads"),
    "ad.shared_by": ("另有 {n} 条广告使用", "{n} other ads use it"),
    "ad.no_contacts": ("未识别出联系方式。", "No contact found."),
    "ad.why": ("分类依据", "Why it was flagged"),
    "ad.verdict": ("结论：{label}，得分 {score}", "Verdict: {label}, score {score}"),
    "ad.categories": ("涉嫌类型", "Categories"),
    "model.line": (
        "模型分数 {score}（≥{flag} 疑似，≥{watch} 可疑），模型结论：{label}",
        "Model score {score} (flag at ≥{flag}, watch at ≥{watch}); the model says: {label}",
    ),
    "model.rules": ("规则结论：{label}", "the rules say: {label}"),
    "model.for": ("模型加分最多的字串", "Strings that weighed most for"),
    "model.against": ("模型减分的字串", "Strings that weighed against"),
    "model.digits": ("模型读入时数字一律记作 0。", "The model reads every digit as 0."),
    "model.unused": ("模型未使用（{reason}），仅按规则判断。", "No model used ({reason}): the rules alone decided."),
    "ad.nearest": ("近似广告（已处理）", "Near-duplicates already decided"),
    "ad.no_nearest": ("暂无近似的已处理广告。", "No decided near-duplicate."),
    "contact.mobile": ("手机", "mobile"),
    "contact.landline": ("座机", "landline"),
    "contact.wechat": ("微信", "WeChat"),
    "contact.qq": ("QQ", "QQ"),
    "contact.qq_group": ("QQ群", "QQ group"),
    "contact.url": ("网址", "URL"),
    "status.new": ("新", "new"),
    "status.flagged": ("待审", "flagged"),
    "status.watch": ("可疑", "watch"),
    "status.clear": ("未见特征", "clear"),
    "status.confirmed": ("已确认违法", "confirmed"),
    "status.rejected": ("已驳回", "rejected"),
    "status.returned": ("退回队列", "sent back"),
    "h.rule": ("规则", "Rule"),
    "h.matched": ("命中内容", "Matched"),
    "h.what": ("含义与依据", "Meaning and basis"),
    "h.weight": ("分值", "Weight"),
    "h.basis": ("依据", "Basis"),
    "h.field_title": ("标题", "title "),
    "h.field_text": ("正文", "text "),
    "h.testing": ("试行规则，不计分", "rule on trial: not scored"),
    "h.category": ("涉嫌类型【{name}】", "category {name}"),
    "h.signal": ("特征【{name}】", "signal: {name}"),
    "h.exculpatory": ("排除线索【{name}】", "exculpatory cue: {name}"),
    "h.sum_category": ("涉嫌类型合计", "categories"),
    "h.sum_signal": ("特征合计", "signals"),
    "h.sum_exculpatory": ("排除线索合计", "exculpatory cues"),
    "h.adjustment": ("其他调整（近似广告、否决、封顶）", "other adjustments (near-duplicates, vetoes, caps)"),
    "h.score": ("得分", "score"),
    "near.confirmed": ("近似已确认违法广告", "like a confirmed ad"),
    "near.rejected": ("近似已驳回广告", "like a rejected ad"),
    "near.distance": ("距离 {d}，相似度 {s}", "distance {d}, similarity {s}"),
    # decisions
    "d.confirm": ("确认违法", "Confirm"),
    "d.reject": ("驳回", "Reject"),
    "d.escalate": ("上报主管", "Escalate"),
    "d.category": ("涉嫌类型", "Category"),
    "d.legal_basis": ("法律依据", "Legal basis"),
    "d.action": ("处置方式", "Takedown action"),
    "d.reason": ("理由", "Reason"),
    "d.note": ("备注", "Note"),
    "d.confirm_submit": ("确认违法并提请处置", "Confirm and request takedown"),
    "d.reject_submit": ("驳回", "Reject"),
    "d.escalate_note": ("需要主管判断的问题", "What should the supervisor look at?"),
    "d.escalate_submit": ("上报", "Escalate"),
    "reason.防非宣传": ("防非宣传", "anti-fraud publicity"),
    "reason.新闻报道": ("新闻报道", "news or court report"),
    "reason.持牌机构合规": ("持牌机构合规", "licensed institution"),
    "reason.非集资广告": ("非集资广告", "not a fundraising ad"),
    "reason.其他": ("其他", "other (note needed)"),
    # evidence, history
    "ev.title": ("证据", "Evidence"),
    "ev.fetched": ("抓取时间", "Fetched"),
    "ev.where": ("存档位置", "Archived at"),
    "ev.page": ("存档网页", "Archived page"),
    "ev.no_page": ("没有存档网页。", "No archived page."),
    "ev.screenshot": ("截图", "Screenshot"),
    "ev.sandbox_note": (
        "以下为抓取时存档的网页，在隔离框中显示：不运行脚本，不向任何网站发出请求。",
        "The page as archived, shown in a sandbox: no script runs, no request leaves it.",
    ),
    "hist.title": ("历史", "History"),
    "hist.decisions": ("处理记录", "Decisions"),
    "hist.escalations": ("上报记录", "Escalations"),
    "hist.ledger": ("台账记录", "Ledger entries"),
    "hist.audit": ("操作记录", "Audit trail"),
    "hist.sightings": ("监测记录", "Sightings"),
    "hist.versions": ("内容版本", "Versions"),
    "hist.none": ("无", "none"),
    "hist.run": ("抓取批次 {n}", "crawl run {n}"),
    "hist.ledger_seq": ("台账 #{n}", "ledger #{n}"),
    "change.new": ("首次发现", "new"),
    "change.same": ("未变化", "unchanged"),
    "change.changed": ("内容变化", "changed"),
    "change.listed": ("列表中出现", "listed"),
    # escalations
    "esc.open_title": ("待主管处理的上报", "Escalations waiting"),
    "esc.explain": (
        "打开广告后可直接确认违法、驳回，或退回审核队列。",
        "Open an ad to confirm it, reject it, or send it back to the queue.",
    ),
    "esc.none": ("没有待处理的上报。", "No open escalation."),
    "esc.done_title": ("最近处理的上报", "Recently resolved"),
    "esc.raised_by": ("上报人", "By"),
    "esc.raised_at": ("上报时间", "When"),
    "esc.note": ("说明", "Note"),
    "esc.return": ("退回审核队列", "Send back to the queue"),
    "esc.returned": ("广告 #{id} 已退回审核队列。", "Ad #{id} is back in the queue."),
    "esc.state_open": ("待处理", "open"),
    "esc.state_resolved": ("已处理", "resolved"),
    "esc.state_returned": ("已退回", "sent back"),
    # audit
    "audit.when": ("时间", "When"),
    "audit.actor": ("操作人", "Who"),
    "audit.action": ("操作", "What"),
    "audit.target": ("对象", "On"),
    "audit.address": ("来源地址", "From"),
    "audit.detail": ("详情", "Detail"),
    "audit.login": ("登录", "login"),
    "audit.login_failed": ("登录失败", "failed login"),
    "audit.login_locked": ("登录被锁定", "login locked out"),
    "audit.login_disabled": ("停用账号尝试登录", "disabled account tried"),
    "audit.logout": ("退出", "logout"),
    "audit.claim": ("认领", "claim"),
    "audit.release": ("放回", "release"),
    "audit.confirm": ("确认违法", "confirm"),
    "audit.reject": ("驳回", "reject"),
    "audit.escalate": ("上报主管", "escalate"),
    "audit.resolve_escalation": ("处理上报", "resolve escalation"),
    "audit.return_escalation": ("退回上报", "send back"),
    "audit.export": ("导出", "export"),
    "audit.user_add": ("新增用户", "add user"),
    "audit.user_disable": ("停用用户", "disable user"),
    "audit.user_password": ("修改密码", "change password"),
    "audit.password_change_failed": ("修改密码失败（当前密码错误）", "failed password change (wrong current password)"),
    # ledger
    "ledger.title": ("违法广告清理台账", "Illegal-ad clearance ledger"),
    "ledger.ok": ("哈希链校验通过：共 {n} 条，链头 {head}。", "Hash chain verified: {n} entries, head {head}."),
    "ledger.broken": ("哈希链校验失败：{problem}", "Hash chain broken: {problem}"),
    "ledger.checkpoint": ("核对检查点", "Checkpoint"),
    "ledger.checkpoint_holds": ("检查点一致。", "The checkpoint holds."),
    "ledger.bad_checkpoint": (
        "检查点格式应为 序号:哈希（见导出文件最后一行）。",
        "A checkpoint is SEQ:HASH (an export's last row).",
    ),
    "ledger.verify": ("校验", "Verify"),
    "ledger.seq": ("序号", "Seq"),
    "ledger.ad": ("广告", "Ad"),
    "ledger.brief": ("摘要", "Summary"),
    "ledger.hash": ("哈希", "Hash"),
    "ledger.confirmed": ("确认违法", "confirmed"),
    "ledger.rejected": ("驳回", "rejected"),
    "ledger.takedown_requested": ("提请处置", "takedown requested"),
    "ledger.notice_issued": ("已发通知", "notice issued"),
    "ledger.removal_verified": ("复核已删除", "removal verified"),
    "ledger.still_online": ("复核仍在线", "still online"),
    "ledger.reversed": ("撤销决定", "reversed"),
    "ledger.approved": ("审核通过", "approved"),
    # export, users
    "export.title": ("导出处置清单", "Export the takedown list"),
    "export.summary": ("共 {n} 条提请处置记录；当前台账链头 {head}。", "{n} takedowns requested; ledger head {head}."),
    "export.format": ("格式", "Format"),
    "export.download": ("下载", "Download"),
    "export.note": (
        "文件最后一行为台账链头（序号与哈希）：保存好文件，日后可在“清理台账”页核对检查点。",
        "The last row is the ledger head: keep the file and check it later on the ledger page.",
    ),
    "users.note": (
        "用 adclear user add / disable / list 管理账号。",
        "Manage accounts with adclear user add/disable/list.",
    ),
    "users.name": ("用户名", "Name"),
    "users.role": ("角色", "Role"),
    "users.state": ("状态", "State"),
    "users.active": ("启用", "active"),
    "users.disabled": ("已停用", "disabled"),
    "users.created": ("创建时间", "Created"),
    "users.last_login": ("最近登录", "Last login"),
    "users.failed": ("连续失败", "Failed logins"),
    # help
    "help.title": ("快捷键", "Keyboard"),
    "help.close": ("按 Esc 或 ? 关闭", "Esc or ? closes this"),
    "key.next": ("下一条（队列中选中下一行）", "next ad (next row in the queue)"),
    "key.prev": ("上一条", "previous ad"),
    "key.open": ("打开选中的广告", "open the selected ad"),
    "key.claim": ("领取下一条", "claim the next ad"),
    "key.confirm": ("确认违法（打开表单，再按 Enter 提交）", "confirm (opens the form; Enter submits)"),
    "key.reject": ("驳回（打开表单）", "reject (opens the form)"),
    "key.reason": ("选择驳回理由（再按 Enter 提交）", "pick a reject reason (Enter submits)"),
    "key.escalate": ("上报主管", "escalate to a supervisor"),
    "key.close": ("关闭表单或帮助", "close a form or this help"),
    "key.submit": ("在文本框中提交表单", "submit from a text box"),
    "key.help": ("显示/隐藏快捷键", "show or hide the keys"),
}

CATEGORY_EN = {
    "投资理财/P2P网贷": "investment / P2P lending",
    "私募股权/原始股": "private equity / pre-IPO shares",
    "养老投资": "elderly-care investment",
    "虚拟货币/区块链": "crypto / blockchain",
    "消费返利/会员返利": "shopping or membership rebates",
    "拉人头/层级返利": "recruitment / multi-level rebates",
    "合作社/互助金": "cooperatives / mutual funds",
    "种植养殖/认养": "farming / adoption schemes",
    "房产商铺返租/售后回购": "property leaseback / buy-back",
    "收藏品/艺术品份额": "collectibles / art shares",
    "境外投资/外汇贵金属": "overseas / forex / precious metals",
    "其他集资": "other fundraising",
}


def _lang() -> str:
    lang = getattr(g, "lang", None)
    if lang is None:
        lang = session.get("lang", "zh") if session else "zh"
        g.lang = lang if lang in LANGUAGES else "zh"
    return g.lang


def t(key: str, default: str | None = None, **values: Any) -> str:
    pair = STRINGS.get(key)
    if pair is None:
        text = default if default is not None else key
    else:
        text = pair[1] if _lang() == "en" and pair[1] else pair[0]
    return text.format(**values) if values else text


def category(name: str) -> str:
    if _lang() == "en" and name in CATEGORY_EN:
        return f"{name} ({CATEGORY_EN[name]})"
    return name


def reason(name: str) -> str:
    pair = STRINGS.get(f"reason.{name}")
    if _lang() == "en" and pair:
        return f"{name} ({pair[1]})"
    return name


def hit_what(hit: dict[str, Any]) -> str:
    from classifier.taxonomy import EXCULPATORY, SIGNALS

    kind = hit.get("kind", "signal")
    if kind == "category":
        return t("h.category", name=category(hit["name"]))
    labels = SIGNALS if kind == "signal" else EXCULPATORY
    name = labels.get(hit["name"], (hit["name"],))[0]
    return t(f"h.{kind}", name=name)


def install(app: Flask) -> None:
    from adclear.timeutil import local
    from review.users import has_role
    from review.web.security import csrf_token

    @app.context_processor
    def _globals() -> dict[str, Any]:
        session_ = getattr(g, "web_session", None)
        me = session_.user if session_ else None
        return {
            "_": t,
            "cat": category,
            "reason": reason,
            "hit_what": hit_what,
            "lang": _lang(),
            "languages": LANGUAGES,
            "me": me,
            "is_supervisor": bool(me and has_role(me.role, "supervisor")),
            "is_admin": bool(me and has_role(me.role, "admin")),
            "shortcuts": SHORTCUTS,
            "csrf_token": csrf_token,
        }

    app.jinja_env.filters["localtime"] = lambda stamp, fmt="%Y-%m-%d %H:%M": local(stamp, fmt)
