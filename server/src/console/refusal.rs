//! The engine's refusals in the interface's language. English is the engine's own
//! text (the API's `detail`); Chinese says the same with the same names in
//! backticks, so that a handler reading either can find the field or the rule.

use redress_engine::policy::field::FieldError;
use redress_engine::runtime::Refusal;

use super::i18n::Lang;

/// Names in backticks, comma-separated; `无` for none.
fn list(items: &[String]) -> String {
    match items.is_empty() {
        true => "无".to_string(),
        false => items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join("、"),
    }
}

/// A field's value that does not fit, in Chinese.
fn field_error_zh(error: &FieldError) -> String {
    match error {
        FieldError::WrongType {
            field,
            expected,
            got,
        } => format!("`{field}` 应为 {expected}，而不是 `{got}`"),
        FieldError::NotAllowed {
            field,
            got,
            allowed,
        } => format!("`{got}` 不是 `{field}` 的可选值：{allowed}"),
        FieldError::OutOfRange {
            field,
            bound,
            limit,
            got,
        } => {
            let bound = match *bound {
                "at least" => "不小于",
                _ => "不大于",
            };
            format!("`{field}` 应{bound} {limit}，而不是 {got}")
        }
        FieldError::Unknown { field } => format!("`{field}` 不是本规则的字段"),
    }
}

/// A refusal as the interface says it.
pub fn text(lang: Lang, refusal: &Refusal) -> String {
    match lang {
        Lang::En => refusal.to_string(),
        Lang::Zh => zh(refusal),
    }
}

fn zh(refusal: &Refusal) -> String {
    match refusal {
        Refusal::UnknownEvent { event, help } => {
            let hint = help.as_ref().map(|h| format!("；{h}")).unwrap_or_default();
            format!("`{event}` 不是本规则的事件{hint}")
        }
        Refusal::NotAllowedFromStage {
            event,
            stage,
            allowed,
        } => format!(
            "阶段 `{stage}` 不能执行 `{event}`；可执行：{}",
            list(allowed)
        ),
        Refusal::GuardFailed { event, condition } => {
            format!("`{event}` 的条件 `{condition}` 不成立")
        }
        Refusal::MissingFields { event, fields } => {
            format!("`{event}` 需要填写 {}", list(fields))
        }
        Refusal::RoleNotAllowed {
            event,
            role,
            allowed,
        } => format!(
            "角色 `{}` 不能执行 `{event}`；可执行的角色：{}",
            role.as_deref().unwrap_or("(无)"),
            list(allowed)
        ),
        Refusal::CaseClosed { stage } => format!("案件已结案（阶段 `{stage}`）"),
        Refusal::StaleVersion { expected, actual } => format!(
            "版本已过期（stale version）：表单基于第 {expected} 版，案件已是第 {actual} 版，请刷新后重试"
        ),
        Refusal::InvalidValue { error } | Refusal::UnknownField { error } => field_error_zh(error),
        Refusal::SetByActions { field } => {
            format!("`{field}` 只能由规则的动作设置，不能手工填写")
        }
        Refusal::NotReceived { case } => format!("案件 `{case}` 尚未受理"),
        Refusal::AlreadyReceived { case } => format!("案件 `{case}` 已经受理"),
        Refusal::ReceivedInFuture { received_at, now } => {
            format!("收到时间 {received_at} 晚于当前时间（{now}）")
        }
        Refusal::BeforeLastEvent { now, last } => {
            format!("{now} 早于案件最后一条记录的时间 {last}")
        }
        Refusal::PolicyMismatch { case_policy, given } => {
            format!("案件使用规则版本 {case_policy}，而不是 {given}")
        }
        Refusal::UnknownSla { sla } => format!("`{sla}` 不是本规则的处理时限"),
        Refusal::UnknownExtension { sla, extension } => {
            format!("时限 `{sla}` 没有可批准的延期 `{extension}`")
        }
        Refusal::ClockNotRunning { sla } => format!("时限 `{sla}` 未在计时"),
        Refusal::TimerNotDue { timer } => format!("定时器 {timer} 尚未到期"),
        Refusal::ScriptFailed { message, .. } => format!("脚本执行出错：{message}"),
        Refusal::CalendarFailed { message } => format!("工作日历无法计算期限：{message}"),
    }
}

#[cfg(test)]
mod tests {
    use redress_engine::policy::field::FieldError;
    use redress_engine::runtime::Refusal;

    use super::{Lang, text};

    #[test]
    fn refusals_are_said_in_chinese_with_the_same_names() {
        let role = Refusal::RoleNotAllowed {
            event: "fast-track".into(),
            role: Some("agent".into()),
            allowed: vec!["supervisor".into()],
        };
        assert_eq!(
            text(Lang::En, &role),
            "role `agent` may not send `fast-track`; allowed: `supervisor`"
        );
        assert_eq!(
            text(Lang::Zh, &role),
            "角色 `agent` 不能执行 `fast-track`；可执行的角色：`supervisor`"
        );
        let range = Refusal::InvalidValue {
            error: FieldError::OutOfRange {
                field: "amount".into(),
                bound: "at least",
                limit: "0".into(),
                got: "-1".into(),
            },
        };
        assert_eq!(text(Lang::Zh, &range), "`amount` 应不小于 0，而不是 -1");
    }
}
