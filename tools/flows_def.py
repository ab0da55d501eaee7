"""The five business flows of the seed, described for ``tools.flowgen`` (DESIGN.md §3)."""

from __future__ import annotations

from eoms.demo import POSTS as DEMO_POSTS
from tools.flowgen import Flow, Node, Process


def props(form: str | None = None, limit: str | None = None, calendar: str = "workday", warn: str | None = None,
          percent: int | None = None, allow: str | None = None, **extra: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if form:
        out["formKey"] = form
    if limit:
        out["timeLimit"] = limit
        out["calendar"] = calendar
    if warn:
        out["warnBefore"] = warn
    if percent:
        out["warnPercent"] = str(percent)
    if allow is not None:
        out["allow"] = allow
    out.update(extra)
    return out


PRESALES = Process(
    "presales_demand", "售前需求支撑",
    [("L_pm", "产品经理"), ("L_sd", "支撑调度员"), ("L_te", "传输工程师"), ("L_de", "数据工程师"),
     ("L_sm", "方案经理"), ("L_sr", "方案审核员")],
    [
        Node("start", "startEvent", "发起支撑需求", "L_pm", props("presales_start")),
        Node("assign", "userTask", "支撑调度", "L_sd",
             props("presales_assign", "PT4H", percent=75, allow="transfer,return")),
        Node("split", "parallelGateway", "资源核查", "L_sd"),
        Node("check_tx", "serviceTask", "传输资源自动核查", "L_te", operator="resource.check",
             params={"kind": "'port'", "region": "region"}, result="tx_check"),
        Node("confirm_tx", "userTask", "传输资源确认", "L_te",
             props("presales_confirm_tx", "P1D", warn="PT4H", allow="transfer")),
        Node("check_data", "serviceTask", "数据资源自动核查", "L_de", operator="resource.check",
             params={"kind": "'vlan,ip'", "region": "region"}, result="data_check"),
        Node("confirm_data", "userTask", "数据资源确认", "L_de",
             props("presales_confirm_data", "P1D", warn="PT4H", allow="transfer")),
        Node("join", "parallelGateway", "", "L_sm"),
        Node("solution", "userTask", "方案组织", "L_sm",
             props("presales_solution", "P3D", warn="P1D", allow="transfer,suspend")),
        Node("review", "userTask", "方案审核", "L_sr",
             props("presales_review", "P1D", warn="PT4H", allow="transfer,return")),
        Node("review_gw", "exclusiveGateway", "审核通过？", "L_sr", default="f_review_reject"),
        Node("confirm", "userTask", "产品经理确认", "L_pm", props("presales_confirm", "P1D", allow="return")),
        Node("end", "endEvent", "需求闭环", "L_pm"),
    ],
    [
        Flow("f_start", "start", "assign"), Flow("f_assign", "assign", "split"),
        Flow("f_split_tx", "split", "check_tx"), Flow("f_split_data", "split", "check_data"),
        Flow("f_check_tx", "check_tx", "confirm_tx"), Flow("f_check_data", "check_data", "confirm_data"),
        Flow("f_confirm_tx", "confirm_tx", "join"), Flow("f_confirm_data", "confirm_data", "join"),
        Flow("f_join", "join", "solution"), Flow("f_solution", "solution", "review"),
        Flow("f_review", "review", "review_gw"),
        Flow("f_review_pass", "review_gw", "confirm", "通过", 'review_result == "pass"'),
        Flow("f_review_reject", "review_gw", "solution", "驳回"),
        Flow("f_confirm", "confirm", "end"),
    ],
    documentation="产品经理发起支撑需求 → 支撑调度 → 传输/数据资源并行核查 → 方案组织 → 方案审核（驳回返回方案组织）→ 产品经理确认。",
)

INSALE = Process(
    "insale_implementation", "售中实施",
    [("L_impl", "实施工程师"), ("L_maint", "维护员"), ("L_audit", "资料审核员")],
    [
        Node("start", "startEvent", "提交客户及项目信息", "L_impl", props("insale_start")),
        Node("enter", "userTask", "录入电路及业务信息", "L_maint",
             props("insale_circuits", "P2D", warn="PT4H", allow="transfer,suspend")),
        Node("register", "serviceTask", "登记资源库", "L_maint", operator="inventory.register_circuits",
             params={"circuits": "circuits", "customer": "customer"}, result="registration"),
        Node("audit", "userTask", "资料审核", "L_audit", props("insale_audit", "P1D", warn="PT4H", allow="transfer")),
        Node("audit_gw", "exclusiveGateway", "审核通过？", "L_audit", default="f_audit_reject"),
        Node("notify", "serviceTask", "通知CRM维护资料完整", "L_audit", operator="crm.notify",
             params={"event": "'maintenance_complete'", "contract_no": "contract_no", "circuits": "len(circuits)"}),
        Node("end", "endEvent", "归档", "L_audit"),
    ],
    [
        Flow("f_start", "start", "enter"), Flow("f_enter", "enter", "register"), Flow("f_register", "register", "audit"),
        Flow("f_audit", "audit", "audit_gw"),
        Flow("f_audit_pass", "audit_gw", "notify", "通过", 'audit_result == "pass"'),
        Flow("f_audit_reject", "audit_gw", "enter", "驳回"),
        Flow("f_notify", "notify", "end"),
    ],
    documentation="实施工程师提交客户及项目信息 → 维护员录入电路及业务信息 → 登记资源库 → 资料审核（驳回返回录入）→ 归档并通知CRM。",
)

FAULT = Process(
    "aftersales_fault", "售后故障",
    [("L_disp", "调度员"), ("L_maint", "维护员"), ("L_rev", "回单审核员"), ("L_cs", "客服代表")],
    [
        Node("start", "startEvent", "故障申告", "L_disp", props("fault_start")),
        Node("accept", "userTask", "故障受理", "L_disp",
             props("fault_accept", '="PT15M" if vip else "PT30M"', calendar="24x7", percent=60, allow="transfer")),
        Node("route", "serviceTask", "自动派单", "L_disp", operator="dispatch.route",
             params={"region": "region", "service_type": "service_type"}, result="route"),
        Node("routed", "scriptTask", "派单结果", "L_disp",
             script='route_post = route["post"]\nroute_org = route["org_unit"]'),
        Node("notify", "serviceTask", "短信通知处理岗位", "L_maint", operator="sms.send",
             params={"template": "'dispatch'", "to_post": "route_post", "to_org": "route_org", "step": "'故障处理'",
                     "summary": "customer + '：' + fault_type"}),
        Node("handle", "userTask", "故障处理", "L_maint",
             props("fault_handle", '="PT2H" if vip else "PT4H"', calendar="24x7", percent=75,
                   allow="transfer,suspend,extend", postVar="route_post", orgUnitVar="route_org")),
        Node("receipt", "userTask", "恢复回单", "L_maint",
             props("fault_receipt", "PT2H", calendar="24x7", percent=75, allow="transfer,suspend",
                   postVar="route_post", orgUnitVar="route_org")),
        Node("audit", "userTask", "回单审核", "L_rev",
             props("fault_audit", "PT4H", calendar="24x7", percent=75, allow="transfer,return")),
        Node("audit_gw", "exclusiveGateway", "审核通过？", "L_rev", default="f_audit_reject"),
        Node("customer_sms", "serviceTask", "结果短信告知客户", "L_cs", operator="sms.send",
             params={"template": "'completion'", "to_phone": "customer_phone", "customer": "customer",
                     "hotline": "'10000'"}),
        Node("callback", "userTask", "客户回访", "L_cs", props("fault_callback", "P1D", warn="PT4H", allow="transfer")),
        Node("end", "endEvent", "归档", "L_cs"),
    ],
    [
        Flow("f_start", "start", "accept"), Flow("f_accept", "accept", "route"), Flow("f_route", "route", "routed"),
        Flow("f_routed", "routed", "notify"), Flow("f_notify", "notify", "handle"),
        Flow("f_handle", "handle", "receipt"), Flow("f_receipt", "receipt", "audit"),
        Flow("f_audit", "audit", "audit_gw"),
        Flow("f_audit_pass", "audit_gw", "customer_sms", "通过", 'receipt_result == "pass"'),
        Flow("f_audit_reject", "audit_gw", "handle", "驳回"),
        Flow("f_customer_sms", "customer_sms", "callback"), Flow("f_callback", "callback", "end"),
    ],
    documentation="故障受理 → 自动派单（区域×业务类型）→ 短信通知 → 故障处理 → 恢复回单（上传故障处理报告）→ 回单审核（驳回返回故障处理）→ 短信告知客户 → 客户回访 → 归档。",
)

PLAN_BRANCH = Process(
    "plan_branch", "分发执行",
    [("L_b_exec", "维护员"), ("L_b_rev", "计划审批人")],
    [
        Node("b_start", "startEvent", "", "L_b_exec"),
        Node("confirm", "userTask", "分发确认", "L_b_exec",
             props("plan_confirm", "P1D", allow="transfer", orgUnitVar="unit")),
        Node("feedback", "userTask", "执行反馈", "L_b_exec",
             props("plan_feedback", "P5D", warn="P1D", allow="transfer,suspend", orgUnitVar="unit")),
        Node("review", "userTask", "反馈审核", "L_b_rev", props("plan_review", "P1D", allow="transfer")),
        Node("review_gw", "exclusiveGateway", "审核通过？", "L_b_rev", default="f_b_reject"),
        Node("b_end", "endEvent", "", "L_b_rev"),
    ],
    [
        Flow("f_b_start", "b_start", "confirm"), Flow("f_b_confirm", "confirm", "feedback"),
        Flow("f_b_feedback", "feedback", "review"), Flow("f_b_review", "review", "review_gw"),
        Flow("f_b_pass", "review_gw", "b_end", "通过", 'review_result == "pass"'),
        Flow("f_b_reject", "review_gw", "feedback", "驳回"),
    ],
)

WORKPLAN = Process(
    "workplan", "作业计划",
    [("L_plan", "计划专责"), ("L_appr", "计划审批人"), ("L_exec", "维护员")],
    [
        Node("start", "startEvent", "发起作业计划", "L_plan", props("plan_start")),
        Node("draft", "userTask", "计划制定", "L_plan", props("plan_draft", "P2D", allow="transfer")),
        Node("approve", "userTask", "计划审批", "L_appr", props("plan_approve", "P1D", warn="PT4H", allow="transfer")),
        Node("approve_gw", "exclusiveGateway", "批准？", "L_appr", default="f_approve_reject"),
        Node("distribute", "subProcess", "分发执行（每个执行单位一支）", "L_exec", multi_instance=("units", "unit"),
             inner=PLAN_BRANCH),
        Node("end", "endEvent", "归档", "L_plan"),
    ],
    [
        Flow("f_start", "start", "draft"), Flow("f_draft", "draft", "approve"),
        Flow("f_approve", "approve", "approve_gw"),
        Flow("f_approve_pass", "approve_gw", "distribute", "批准", 'approve_result == "pass"'),
        Flow("f_approve_reject", "approve_gw", "draft", "驳回"),
        Flow("f_distribute", "distribute", "end"),
    ],
    documentation="计划制定 → 审批（驳回返回制定）→ 分发到每个执行单位（分发确认 → 执行反馈 → 反馈审核，驳回返回该单位的执行反馈）→ 归档。",
)

PROVISIONING = Process(
    "provisioning", "服务开通",
    [("L_aud", "受理审核员"), ("L_res", "资源调度员"), ("L_net", "开通工程师"), ("L_impl", "实施工程师")],
    [
        Node("start", "startEvent", "订单受理", "L_aud", props("prov_start")),
        Node("audit", "userTask", "受理审核", "L_aud", props("prov_audit", "PT4H", percent=75, allow="transfer")),
        Node("audit_gw", "exclusiveGateway", "受理通过？", "L_aud", default="f_audit_reject"),
        Node("reject_notify", "serviceTask", "通知CRM退单", "L_aud", operator="crm.notify",
             params={"event": "'order_rejected'", "order_no": "order_no", "reason": "audit_reason"}),
        Node("end_rejected", "endEvent", "退单", "L_aud"),
        Node("allocate", "serviceTask", "自动分配资源", "L_res", operator="resource.allocate",
             params={"region": "region", "kinds": "'port,vlan,ip'"}, result="alloc"),
        Node("alloc_gw", "exclusiveGateway", "分配成功？", "L_res", default="f_alloc_fail"),
        Node("manual", "userTask", "人工调度", "L_res", props("prov_manual", "PT4H", percent=75, allow="transfer")),
        Node("assign", "serviceTask", "按调度分配资源", "L_res", operator="resource.assign",
             params={"region": "region", "port": "port", "vlan": "vlan", "ip": "ip"}, result="alloc"),
        Node("assign_gw", "exclusiveGateway", "调度有效？", "L_res", default="f_assign_fail"),
        Node("allocated", "exclusiveGateway", "", "L_net"),
        Node("activate", "serviceTask", "网络激活", "L_net", operator="network.activate",
             params={"service": "service", "bandwidth": "bandwidth", "port": "alloc['port']",
                     "vlan": "alloc['vlan']", "ip": "alloc['ip']"}),
        Node("wait", "intermediateMessage", "等待激活结果", "L_net", message="activation_result"),
        Node("activation_gw", "exclusiveGateway", "激活成功？", "L_net", default="f_activation_fail"),
        Node("manual_activation", "userTask", "人工开通", "L_net",
             props("prov_manual_activation", "PT4H", calendar="24x7", percent=75, allow="transfer")),
        Node("activated", "exclusiveGateway", "", "L_net"),
        Node("test", "userTask", "开通测试", "L_net", props("prov_test", "PT4H", percent=75, allow="transfer")),
        Node("test_gw", "exclusiveGateway", "测试通过？", "L_net", default="f_test_fail"),
        Node("completion", "userTask", "竣工回单", "L_impl", props("prov_completion", "P1D", allow="transfer")),
        Node("done_notify", "serviceTask", "通知CRM竣工", "L_impl", operator="crm.notify",
             params={"event": "'order_completed'", "order_no": "order_no"}),
        Node("end", "endEvent", "竣工", "L_impl"),
    ],
    [
        Flow("f_start", "start", "audit"), Flow("f_audit", "audit", "audit_gw"),
        Flow("f_audit_pass", "audit_gw", "allocate", "受理", 'audit_result == "pass"'),
        Flow("f_audit_reject", "audit_gw", "reject_notify", "退单"), Flow("f_rejected", "reject_notify", "end_rejected"),
        Flow("f_allocate", "allocate", "alloc_gw"),
        Flow("f_alloc_ok", "alloc_gw", "allocated", "成功", 'alloc["ok"]'),
        Flow("f_alloc_fail", "alloc_gw", "manual", "失败"),
        Flow("f_manual", "manual", "assign"), Flow("f_assign", "assign", "assign_gw"),
        Flow("f_assign_ok", "assign_gw", "allocated", "有效", 'alloc["ok"]'),
        Flow("f_assign_fail", "assign_gw", "manual", "资源不可用"),
        Flow("f_allocated", "allocated", "activate"), Flow("f_activate", "activate", "wait"),
        Flow("f_wait", "wait", "activation_gw"),
        Flow("f_activation_ok", "activation_gw", "activated", "成功", 'activation["ok"]'),
        Flow("f_activation_fail", "activation_gw", "manual_activation", "失败"),
        Flow("f_manual_activation", "manual_activation", "activated"),
        Flow("f_activated", "activated", "test"), Flow("f_test", "test", "test_gw"),
        Flow("f_test_ok", "test_gw", "completion", "通过", 'test_result == "pass"'),
        Flow("f_test_fail", "test_gw", "manual_activation", "不通过"),
        Flow("f_completion", "completion", "done_notify"), Flow("f_done", "done_notify", "end"),
    ],
    messages=[("msg_activation_result", "activation_result", "activation")],
    documentation="订单受理 → 受理审核 → 自动分配端口/VLAN/IP（失败转人工调度）→ 网络激活（重试，最终失败转人工开通）→ 开通测试 → 竣工回单 → 通知CRM。",
)

FLOWS = [PRESALES, INSALE, FAULT, WORKPLAN, PROVISIONING]
POSTS = DEMO_POSTS  # the posts the lanes name; eoms seed-demo creates them
