//! The console's own words in English and Chinese. The language comes from the
//! `lang` query parameter, else the `redress_lang` cookie (set by the switch in
//! every page's header), else the browser's `Accept-Language`. Each language is one
//! [`Texts`] value, so a template that names a text missing in one language does
//! not compile. The policy's own words (labels, the complainant's texts) come from
//! the policy.

use axum::http::HeaderMap;

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Chinese (简体中文).
    Zh,
}

/// The cookie that keeps the chosen language.
pub const LANG_COOKIE: &str = "redress_lang";

impl Lang {
    /// The language tag (`en`, `zh`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// A language from its tag or a tag of the same language (`zh-CN`).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The best of English and Chinese for an `Accept-Language` header, by its
    /// quality values; English when it names neither.
    pub fn from_accept(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("");
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::from_tag(tag)
                && best.is_none_or(|(q, _)| quality > q)
            {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    /// The language of a request: `?lang=`, else the cookie, else `Accept-Language`.
    pub fn of_request(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(lang) = query.and_then(Lang::from_tag) {
            return lang;
        }
        if let Some(lang) = super::cookie(headers, LANG_COOKIE).and_then(|v| Lang::from_tag(&v)) {
            return lang;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Lang::from_accept(accept)
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The texts of this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

/// Every text of the interface, in one language; each field is named after where
/// it is used. Patterns with `{n}` are filled in by [`Texts::count`], with `{s}` by
/// [`Texts::fill`].
#[derive(Debug)]
#[allow(missing_docs)]
pub struct Texts {
    pub language_name: &'static str,
    pub skip_to_content: &'static str,
    pub nav_queue: &'static str,
    pub nav_new: &'static str,
    pub nav_policies: &'static str,
    pub nav_reports: &'static str,
    pub signed_in_as: &'static str,
    pub sign_out: &'static str,
    pub sign_in: &'static str,
    pub sign_in_title: &'static str,
    pub token_label: &'static str,
    pub token_help: &'static str,
    pub token_unknown: &'static str,
    pub session_ended: &'static str,
    pub csrf_refused: &'static str,
    pub queue_title: &'static str,
    pub filter: &'static str,
    pub any: &'static str,
    pub policy: &'static str,
    pub queue: &'static str,
    pub stage: &'static str,
    pub clock: &'static str,
    pub assignee: &'static str,
    pub case: &'static str,
    pub next_due: &'static str,
    pub time_left: &'static str,
    pub received: &'static str,
    pub no_cases: &'static str,
    pub previous_page: &'static str,
    pub next_page: &'static str,
    pub page_of: &'static str,
    pub state_running: &'static str,
    pub state_at_risk: &'static str,
    pub state_breached: &'static str,
    pub state_paused: &'static str,
    pub state_none: &'static str,
    pub state_met: &'static str,
    pub state_missed: &'static str,
    pub state_not_started: &'static str,
    pub days_left: &'static str,
    pub hours_left: &'static str,
    pub minutes_left: &'static str,
    pub under_a_minute_left: &'static str,
    pub days_over: &'static str,
    pub hours_over: &'static str,
    pub fields: &'static str,
    pub masked: &'static str,
    pub clocks: &'static str,
    pub sla: &'static str,
    pub target: &'static str,
    pub deadline: &'static str,
    pub explanation: &'static str,
    pub counted: &'static str,
    pub paused: &'static str,
    pub skipped: &'static str,
    pub extensions: &'static str,
    pub trail: &'static str,
    pub when: &'static str,
    pub who: &'static str,
    pub what: &'static str,
    pub why: &'static str,
    pub actions: &'static str,
    pub no_actions: &'static str,
    pub read_only_note: &'static str,
    pub send: &'static str,
    pub refused: &'static str,
    pub done: &'static str,
    pub add_note: &'static str,
    pub note: &'static str,
    pub assign: &'static str,
    pub extend: &'static str,
    pub extension: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub not_allowed_for_role: &'static str,
    pub tracking: &'static str,
    pub tracking_help: &'static str,
    pub tracking_issue: &'static str,
    pub tracking_revoke: &'static str,
    pub tracking_new_link: &'static str,
    pub tracking_revoked: &'static str,
    pub new_title: &'static str,
    pub choose_policy: &'static str,
    pub file_complaint: &'static str,
    pub required: &'static str,
    pub fix_fields: &'static str,
    pub policies_title: &'static str,
    pub graph: &'static str,
    pub graph_any_stage: &'static str,
    pub transitions: &'static str,
    pub event: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub roles: &'static str,
    pub condition: &'static str,
    pub requires: &'static str,
    pub slas: &'static str,
    pub citation: &'static str,
    pub calendar: &'static str,
    pub warnings: &'static str,
    pub routing: &'static str,
    pub rule: &'static str,
    pub otherwise: &'static str,
    pub priority: &'static str,
    pub version: &'static str,
    pub time_zone: &'static str,
    pub reports_title: &'static str,
    pub track_title: &'static str,
    pub track_reference: &'static str,
    pub track_stage: &'static str,
    pub track_next: &'static str,
    pub track_answer_by: &'static str,
    pub track_no_deadline: &'static str,
    pub track_escalate: &'static str,
    pub track_privacy: &'static str,
    pub not_found_title: &'static str,
    pub not_found: &'static str,
    pub track_not_found: &'static str,
    pub too_many: &'static str,
    pub error_title: &'static str,
    pub reports_choose: &'static str,
    pub reports_period: &'static str,
    pub reports_month: &'static str,
    pub reports_quarter: &'static str,
    pub reports_dates: &'static str,
    pub reports_group_by: &'static str,
    pub reports_show: &'static str,
    pub reports_previous: &'static str,
    pub reports_overview: &'static str,
    pub reports_trend: &'static str,
    pub reports_groups: &'static str,
    pub reports_compliance: &'static str,
    pub reports_causes: &'static str,
    pub reports_cause: &'static str,
    pub reports_change: &'static str,
    pub reports_no_causes: &'static str,
    pub reports_note: &'static str,
    pub reports_forbidden: &'static str,
    pub reports_bad_date: &'static str,
    pub r_received: &'static str,
    pub r_closed: &'static str,
    pub r_withdrawn: &'static str,
    pub r_withdrawn_series: &'static str,
    pub r_open_at_start: &'static str,
    pub r_open_at_end: &'static str,
    pub r_resolution_rate: &'static str,
    pub r_handling_days: &'static str,
    pub r_handling_business_days: &'static str,
    pub r_median_days: &'static str,
    pub r_extensions: &'static str,
    pub r_reopen_rate: &'static str,
    pub r_upheld_rate: &'static str,
    pub r_upheld: &'static str,
    pub r_partly_upheld: &'static str,
    pub r_not_upheld: &'static str,
    pub r_redress: &'static str,
    pub r_cases: &'static str,
    pub r_satisfaction: &'static str,
    pub r_response_rate: &'static str,
    pub r_repeat: &'static str,
    pub r_repeat_of: &'static str,
    pub r_repeat_not_counted: &'static str,
    pub r_met: &'static str,
    pub r_breached: &'static str,
    pub r_running_past: &'static str,
    pub r_compliance_rate: &'static str,
    pub r_this_period: &'static str,
    pub r_previous_period: &'static str,
    pub r_responses: &'static str,
    pub nav_label: &'static str,
    pub case_closed: &'static str,
    pub routing_script: &'static str,
    pub queue_capped: &'static str,
    pub dim_category: &'static str,
    pub dim_product: &'static str,
    pub dim_channel: &'static str,
    pub dim_department: &'static str,
    pub dim_queue: &'static str,
    pub dim_root_cause: &'static str,
    pub dim_outcome: &'static str,
    pub not_a_datetime: &'static str,
    pub unknown_action: &'static str,
}

/// English.
pub static EN: Texts = Texts {
    language_name: "English",
    skip_to_content: "Skip to content",
    nav_queue: "Queue",
    nav_new: "New complaint",
    nav_policies: "Policies",
    nav_reports: "Reports",
    signed_in_as: "Signed in as",
    sign_out: "Sign out",
    sign_in: "Sign in",
    sign_in_title: "Sign in to Redress",
    token_label: "Access token",
    token_help: "The token your administrator gave you (the same as for the API).",
    token_unknown: "This token is not known to the server.",
    session_ended: "Your session has ended. Please sign in again.",
    csrf_refused: "The form was out of date or not from this site, so nothing was changed. Please try again.",
    queue_title: "Open cases",
    filter: "Filter",
    any: "Any",
    policy: "Policy",
    queue: "Queue",
    stage: "Stage",
    clock: "Clock",
    assignee: "Assignee",
    case: "Case",
    next_due: "Next due",
    time_left: "Time left",
    received: "Received",
    no_cases: "No open cases match.",
    previous_page: "Previous page",
    next_page: "Next page",
    page_of: "Page",
    state_running: "Running",
    state_at_risk: "At risk",
    state_breached: "Breached",
    state_paused: "Paused",
    state_none: "No clock",
    state_met: "Met",
    state_missed: "Missed",
    state_not_started: "Not started",
    days_left: "{n} business days left",
    hours_left: "{n} hours left",
    minutes_left: "{n} minutes left",
    under_a_minute_left: "under a minute left",
    days_over: "{n} business days overdue",
    hours_over: "{n} hours overdue",
    fields: "Fields",
    masked: "hidden for your role",
    clocks: "Deadlines",
    sla: "Deadline",
    target: "Target",
    deadline: "Due by",
    explanation: "Why this date",
    counted: "counted",
    paused: "paused",
    skipped: "not counted",
    extensions: "Extensions",
    trail: "Audit trail",
    when: "When",
    who: "Who",
    what: "What",
    why: "Rule",
    actions: "Next steps",
    no_actions: "There is nothing your role can do on this case now.",
    read_only_note: "Your access is read-only.",
    send: "Send",
    refused: "Refused",
    done: "Done",
    add_note: "Add a note",
    note: "Note",
    assign: "Assign",
    extend: "Extend a deadline",
    extension: "Extension",
    yes: "Yes",
    no: "No",
    not_allowed_for_role: "not for your role",
    tracking: "Complainant's status page",
    tracking_help: "A private link for the complainant: it shows the stage, what happens next and the date we must answer by, and no personal data.",
    tracking_issue: "Issue a new link (the old ones stop working)",
    tracking_revoke: "Revoke the links",
    tracking_new_link: "New link; copy it now, it is shown only once:",
    tracking_revoked: "Links revoked:",
    new_title: "New complaint",
    choose_policy: "Procedure",
    file_complaint: "File the complaint",
    required: "required",
    fix_fields: "The complaint was not filed. Please correct the fields marked below.",
    policies_title: "Policies",
    graph: "Stages and transitions",
    graph_any_stage: "from any stage",
    transitions: "Transitions",
    event: "Event",
    from: "From",
    to: "To",
    roles: "Roles",
    condition: "Condition",
    requires: "Requires",
    slas: "Deadlines (SLAs)",
    citation: "Source",
    calendar: "Calendar",
    warnings: "Warnings",
    routing: "Routing rules, in order",
    rule: "Rule",
    otherwise: "otherwise",
    priority: "Priority",
    version: "Version",
    time_zone: "Time zone",
    reports_title: "Reports",
    track_title: "Your complaint",
    track_reference: "Reference",
    track_stage: "Where it is",
    track_next: "What happens next",
    track_answer_by: "We must answer by",
    track_no_deadline: "No answer is due from us at this stage.",
    track_escalate: "If you are not satisfied",
    track_privacy: "This page shows no personal details. Keep the link private.",
    not_found_title: "Not found",
    not_found: "There is no such page, or you may not see it.",
    track_not_found: "This link does not open a complaint. It may be mistyped or no longer valid.",
    too_many: "Too many requests from your address. Please wait a minute and try again.",
    error_title: "Something went wrong",
    reports_choose: "Choose a report",
    reports_period: "Period",
    reports_month: "Month",
    reports_quarter: "Quarter",
    reports_dates: "From – to",
    reports_group_by: "Group by",
    reports_show: "Show the report",
    reports_previous: "previous period",
    reports_overview: "Overview",
    reports_trend: "Volume trend",
    reports_groups: "By group",
    reports_compliance: "Deadlines met",
    reports_causes: "Root causes",
    reports_cause: "Cause",
    reports_change: "Change",
    reports_no_causes: "No root cause was recorded in the period.",
    reports_note: "Figures are counted as in docs/reporting.md: received and closed in the period; resolution rate is closed ÷ (open at start + received); handling time from receipt to closing. No personal data is shown.",
    reports_forbidden: "role `{s}` may not read reports; `compliance` and `auditor` may",
    reports_bad_date: "`{s}` is not a date (year-month-day)",
    r_received: "Received",
    r_closed: "Closed",
    r_withdrawn: "withdrawn",
    r_withdrawn_series: "Withdrawn",
    r_open_at_start: "Open at start",
    r_open_at_end: "Open at end",
    r_resolution_rate: "Resolution rate",
    r_handling_days: "Handling time, median / p90 (days)",
    r_handling_business_days: "Handling time, median / p90 (business days)",
    r_median_days: "Median days",
    r_extensions: "Extensions granted",
    r_reopen_rate: "Reopen rate",
    r_upheld_rate: "Upheld rate",
    r_upheld: "upheld",
    r_partly_upheld: "partly",
    r_not_upheld: "not upheld",
    r_redress: "Redress paid",
    r_cases: "{n} cases",
    r_satisfaction: "Satisfaction",
    r_response_rate: "response rate",
    r_repeat: "Repeat complainants",
    r_repeat_of: "{n} of {s} complainants",
    r_repeat_not_counted: "not counted (no complainant key)",
    r_met: "Met",
    r_breached: "Breached",
    r_running_past: "Running past deadline",
    r_compliance_rate: "Compliance",
    r_this_period: "This period",
    r_previous_period: "Previous period",
    r_responses: "Responses per score",
    nav_label: "Main",
    case_closed: "closed",
    routing_script: "and a routing script",
    queue_capped: "Only the first 5,000 matching cases are sorted; narrow the filters to see the rest.",
    dim_category: "Category",
    dim_product: "Product",
    dim_channel: "Channel",
    dim_department: "Department",
    dim_queue: "Queue",
    dim_root_cause: "Root cause",
    dim_outcome: "Outcome",
    not_a_datetime: "`{s}` is not a date and time",
    unknown_action: "unknown action `{s}`",
};

/// Chinese.
pub static ZH: Texts = Texts {
    language_name: "中文",
    skip_to_content: "跳到正文",
    nav_queue: "待办",
    nav_new: "新投诉",
    nav_policies: "处理规则",
    nav_reports: "报表",
    signed_in_as: "当前用户",
    sign_out: "退出",
    sign_in: "登录",
    sign_in_title: "登录 Redress",
    token_label: "访问令牌",
    token_help: "管理员发给您的令牌（与 API 相同）。",
    token_unknown: "服务器不认识这个令牌。",
    session_ended: "会话已结束，请重新登录。",
    csrf_refused: "表单已过期或并非来自本站，未作任何更改。请重试。",
    queue_title: "未结案件",
    filter: "筛选",
    any: "全部",
    policy: "规则",
    queue: "队列",
    stage: "阶段",
    clock: "时限",
    assignee: "经办人",
    case: "案件",
    next_due: "下一到期",
    time_left: "剩余时间",
    received: "收到时间",
    no_cases: "没有符合条件的未结案件。",
    previous_page: "上一页",
    next_page: "下一页",
    page_of: "第",
    state_running: "计时中",
    state_at_risk: "临近超时",
    state_breached: "已超时",
    state_paused: "已暂停",
    state_none: "无时限",
    state_met: "按时完成",
    state_missed: "超时完成",
    state_not_started: "未开始",
    days_left: "剩余 {n} 个工作日",
    hours_left: "剩余 {n} 小时",
    minutes_left: "剩余 {n} 分钟",
    under_a_minute_left: "剩余不到 1 分钟",
    days_over: "已超时 {n} 个工作日",
    hours_over: "已超时 {n} 小时",
    fields: "投诉信息",
    masked: "您的角色不可见",
    clocks: "处理时限",
    sla: "时限",
    target: "期限",
    deadline: "截止",
    explanation: "截止日期的计算",
    counted: "计入",
    paused: "暂停",
    skipped: "不计入",
    extensions: "延期",
    trail: "审计记录",
    when: "时间",
    who: "操作人",
    what: "内容",
    why: "依据",
    actions: "下一步",
    no_actions: "您的角色目前不能对此案件进行操作。",
    read_only_note: "您只有查看权限。",
    send: "提交",
    refused: "已拒绝",
    done: "已完成",
    add_note: "添加备注",
    note: "备注",
    assign: "分派",
    extend: "延长时限",
    extension: "延期类型",
    yes: "是",
    no: "否",
    not_allowed_for_role: "您的角色不可操作",
    tracking: "投诉人查询页面",
    tracking_help: "发给投诉人的专用链接：显示处理阶段、下一步和答复截止日期，不含任何个人信息。",
    tracking_issue: "生成新链接（旧链接失效）",
    tracking_revoke: "撤销链接",
    tracking_new_link: "新链接，请立即复制，仅显示一次：",
    tracking_revoked: "已撤销的链接：",
    new_title: "新投诉",
    choose_policy: "处理流程",
    file_complaint: "登记投诉",
    required: "必填",
    fix_fields: "投诉未登记，请更正下面标出的字段。",
    policies_title: "处理规则",
    graph: "阶段与流转",
    graph_any_stage: "可从任一阶段",
    transitions: "流转",
    event: "事件",
    from: "从",
    to: "到",
    roles: "角色",
    condition: "条件",
    requires: "需填写",
    slas: "处理时限",
    citation: "依据",
    calendar: "工作日历",
    warnings: "预警",
    routing: "分派规则（按顺序）",
    rule: "规则",
    otherwise: "其他情况",
    priority: "优先级",
    version: "版本",
    time_zone: "时区",
    reports_title: "报表",
    track_title: "您的投诉",
    track_reference: "投诉编号",
    track_stage: "当前进展",
    track_next: "下一步",
    track_answer_by: "我们最迟答复日期",
    track_no_deadline: "本阶段我们没有需要答复的期限。",
    track_escalate: "如您不满意",
    track_privacy: "本页面不显示任何个人信息。请妥善保管此链接。",
    not_found_title: "未找到",
    not_found: "没有这个页面，或您无权查看。",
    track_not_found: "此链接无法打开投诉，可能输入有误或已失效。",
    too_many: "来自您地址的请求过多，请一分钟后再试。",
    error_title: "出错了",
    reports_choose: "选择报表",
    reports_period: "报告期",
    reports_month: "按月",
    reports_quarter: "按季度",
    reports_dates: "起止日期",
    reports_group_by: "分组",
    reports_show: "生成报表",
    reports_previous: "上期",
    reports_overview: "概况",
    reports_trend: "投诉量趋势",
    reports_groups: "分组情况",
    reports_compliance: "时限达标",
    reports_causes: "投诉原因",
    reports_cause: "原因",
    reports_change: "变化",
    reports_no_causes: "本期没有记录投诉原因。",
    reports_note: "统计口径见 docs/reporting.md：受理、办结均按报告期计；投诉解决率 = 办结 ÷（期初未结 + 受理）；处理时效自收到至办结。本页不显示任何个人信息。",
    reports_forbidden: "角色 `{s}` 无权查看报表；`compliance`（合规）和 `auditor`（审计）可以查看",
    reports_bad_date: "`{s}` 不是有效日期（年-月-日）",
    r_received: "受理",
    r_closed: "办结",
    r_withdrawn: "撤诉",
    r_withdrawn_series: "撤诉",
    r_open_at_start: "期初未结",
    r_open_at_end: "期末未结",
    r_resolution_rate: "投诉解决率",
    r_handling_days: "处理时效，中位数 / 90 分位（天）",
    r_handling_business_days: "处理时效，中位数 / 90 分位（工作日）",
    r_median_days: "时效中位数（天）",
    r_extensions: "延期次数",
    r_reopen_rate: "重开率",
    r_upheld_rate: "支持率",
    r_upheld: "支持",
    r_partly_upheld: "部分支持",
    r_not_upheld: "不支持",
    r_redress: "赔付金额",
    r_cases: "{n} 件",
    r_satisfaction: "满意度",
    r_response_rate: "回复率",
    r_repeat: "重复投诉人",
    r_repeat_of: "{s} 名投诉人中 {n} 名",
    r_repeat_not_counted: "未统计（未配置投诉人密钥）",
    r_met: "按时",
    r_breached: "超时",
    r_running_past: "逾期未结",
    r_compliance_rate: "达标率",
    r_this_period: "本期",
    r_previous_period: "上期",
    r_responses: "各评分回复数",
    nav_label: "主导航",
    case_closed: "已结案",
    routing_script: "另有分派脚本",
    queue_capped: "仅对前 5000 件符合条件的案件排序；请缩小筛选范围查看其余案件。",
    dim_category: "业务类别",
    dim_product: "产品",
    dim_channel: "渠道",
    dim_department: "部门",
    dim_queue: "队列",
    dim_root_cause: "投诉原因",
    dim_outcome: "处理结果",
    not_a_datetime: "`{s}` 不是有效的日期和时间",
    unknown_action: "未知操作 `{s}`",
};

impl Texts {
    /// A pattern with its `{n}` filled in.
    pub fn count(pattern: &str, n: i64) -> String {
        pattern.replace("{n}", &n.to_string())
    }

    /// A pattern with its `{s}` filled in.
    pub fn fill(pattern: &str, text: &str) -> String {
        pattern.replace("{s}", text)
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn the_language_follows_the_browser_unless_chosen() {
        for (accept, expected) in [
            ("zh-CN,zh;q=0.9,en;q=0.8", Lang::Zh),
            ("en-GB,en;q=0.9", Lang::En),
            ("fr-FR, en;q=0.5, zh;q=0.7", Lang::Zh),
            ("de", Lang::En),
            ("", Lang::En),
        ] {
            assert_eq!(Lang::from_accept(accept), expected, "{accept}");
        }
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("accept-language", "zh-CN".parse().unwrap());
        assert_eq!(Lang::of_request(None, &headers), Lang::Zh);
        assert_eq!(Lang::of_request(Some("en"), &headers), Lang::En);
        headers.insert("cookie", "a=b; redress_lang=en".parse().unwrap());
        assert_eq!(Lang::of_request(None, &headers), Lang::En);
    }

    /// `(key, text)` of every text, read from the `Debug` form of [`Texts`].
    fn pairs(texts: &super::Texts) -> Vec<(String, String)> {
        let debug = format!("{texts:?}");
        let mut out = Vec::new();
        let mut rest = debug.as_str();
        while let Some(at) = rest.find(": \"") {
            let key = rest[..at]
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap()
                .to_string();
            let mut text = String::new();
            let mut chars = rest[at + 3..].char_indices();
            let end = loop {
                match chars.next().unwrap() {
                    (_, '\\') => text.push(chars.next().unwrap().1),
                    (i, '"') => break at + 3 + i + 1,
                    (_, c) => text.push(c),
                }
            };
            out.push((key, text));
            rest = &rest[end..];
        }
        out
    }

    #[test]
    fn every_text_is_in_chinese_with_the_same_placeholders() {
        let (en, zh) = (pairs(&super::EN), pairs(&super::ZH));
        assert!(en.len() > 100, "{} texts read", en.len());
        assert_eq!(
            en.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            zh.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        let placeholders = |text: &str| {
            let mut found: Vec<&str> = ["{n}", "{s}"]
                .into_iter()
                .filter(|p| text.contains(p))
                .collect();
            found.sort();
            found
        };
        for ((key, english), (_, chinese)) in en.iter().zip(&zh) {
            let han = chinese
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
            assert!(han, "`{key}` is not in Chinese: {chinese:?}");
            assert_ne!(english, chinese, "`{key}`");
            assert_eq!(
                placeholders(english),
                placeholders(chinese),
                "`{key}`: {english:?} / {chinese:?}"
            );
        }
    }

    /// Every word a template shows comes from the texts (or the policy): no
    /// English left in the markup outside `{{ }}` and `{% %}`.
    #[test]
    fn templates_show_no_words_of_their_own() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let allowed = ["Redress", "htmx", "BSD"];
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            files += 1;
            let mut visible = String::new();
            let mut depth: Option<&str> = None;
            let mut i = 0;
            let bytes = source.as_bytes();
            while i < bytes.len() {
                let two = &bytes[i..(i + 2).min(bytes.len())];
                match (depth, two) {
                    (None, b"{{") => (depth, i) = (Some("}}"), i + 2),
                    (None, b"{%") => (depth, i) = (Some("%}"), i + 2),
                    (None, _) if bytes[i] == b'<' => (depth, i) = (Some(">"), i + 1),
                    (Some(end), _) if bytes[i..].starts_with(end.as_bytes()) => {
                        (depth, i) = (None, i + end.len());
                        visible.push(' ');
                    }
                    (Some(_), _) => i += 1,
                    (None, _) => {
                        let c = source[i..].chars().next().unwrap();
                        visible.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            for word in visible.split(|c: char| !c.is_ascii_alphabetic()) {
                assert!(
                    word.len() < 2 || allowed.contains(&word),
                    "{}: `{word}` is not from the texts",
                    path.display()
                );
            }
        }
        assert!(files >= 10, "templates read: {files}");
    }

    #[test]
    fn no_text_is_left_empty_in_either_language() {
        for lang in [Lang::En, Lang::Zh] {
            let debug = format!("{:?}", lang.texts());
            assert!(!debug.contains(": \"\""), "{lang:?} has an empty text");
        }
    }
}
