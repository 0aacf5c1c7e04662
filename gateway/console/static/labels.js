// Chinese labels for the hub's English code names (RULES.md); an unknown code is shown as it is.

const TABLES = {
  colour: { red: "红色", orange: "橙色", yellow: "黄色", blue: "蓝色" },
  caseStatus: {
    registered: "已受理",
    dispatched: "已分拨",
    in_progress: "办理中",
    replied: "已答复",
    callback: "回访中",
    closed: "已办结",
    merged: "已合并",
    withdrawn: "已撤回",
    reopened: "重新办理",
    returned_to_channel: "已回退来源渠道",
  },
  referralStatus: {
    created: "待派发",
    dispatched: "待报到",
    acknowledged: "已报到",
    in_progress: "办理中",
    extension_requested: "延期申请中",
    replied: "已答复",
    returned: "已退回",
    cancelled: "已撤销",
  },
  supervision: {
    none: "无",
    reminder: "提醒",
    ordinary: "普通督办",
    yellow_card: "黄牌督办",
    red_card: "红牌督办",
  },
  responseLevel: { immediate: "即时响应", time_limited: "限时办理", joint_consultation: "联合会商" },
  role: { lead: "牵头", assisting: "协办", centre: "中心", department: "部门", adapter: "外部系统", ops: "运维", supervisor: "督办", system: "系统", grid_worker: "网格员" },
  queueReason: {
    no_rule: "无匹配分拨规则",
    no_lead_unit: "无牵头单位",
    bad_area: "区划不明",
    returned: "部门退回",
  },
  outcome: {
    resolved: "已解决",
    mediated: "调解成功",
    partially_resolved: "部分解决",
    unresolved: "未解决",
    referred_to_litigation: "转入诉讼",
  },
  satisfaction: { satisfied: "满意", basically_satisfied: "基本满意", dissatisfied: "不满意" },
  category: {
    property: "物业纠纷",
    neighbour: "邻里纠纷",
    family: "婚姻家庭纠纷",
    labour: "劳资纠纷（欠薪）",
    contract: "合同纠纷",
    finance: "金融纠纷",
    land_compensation: "土地征收补偿纠纷",
    construction_payment: "工程款纠纷",
    public_facilities_alteration: "私改公共设施",
    noise: "噪声扰民",
    sanitation: "环境卫生",
    public_security: "治安问题",
    petition: "信访事项",
    law_related: "涉法涉诉",
    public_interest_clue: "公益诉讼线索",
    other: "其他",
  },
  channel: {
    window: "窗口",
    phone: "电话",
    web: "网上",
    grid_app: "网格员",
    hotline12345: "12345 热线",
    police110: "110 警情",
    court: "法院",
    procuratorate12309: "12309 检察",
    petition: "信访",
    kiosk: "自助终端",
  },
  action: {
    acknowledge: "报到",
    start: "开始办理",
    reply: "答复",
    return: "退回",
    request_extension: "申请延期",
    suspend: "暂停计时",
    resume: "恢复计时",
  },
  service: { gateway: "网关", intake: "受理", referral: "流转", notification: "通知" },
  stage: {
    acknowledge: "报到时限",
    handling: "办理时限",
    meeting: "联席会商",
    acceptance: "受理时限",
    return_window: "退回期限",
    follow_up: "跟踪回访",
    dispatch_queue: "调度队列",
  },
  requestType: { consultation: "咨询", help: "求助", complaint: "投诉", report: "举报", suggestion: "建议" },
  flag: {
    violence_threat: "扬言暴力",
    self_harm_threat: "扬言自伤自杀",
    mass_gathering_risk: "可能群体聚集",
    vulnerable_person: "涉及弱势群体",
    criminal_risk: "可能涉刑",
  },
  centreLevel: { district: "区县", street: "街道", community: "社区" },
};
// Where a stalled item sits: a referral's state, else a case's.
TABLES.state = { ...TABLES.caseStatus, ...TABLES.referralStatus };

export function label(kind, code) {
  if (code === null || code === undefined || code === "") return "—";
  return (TABLES[kind] && TABLES[kind][code]) || String(code);
}

export const COLOURS = ["red", "orange", "yellow", "blue"];
