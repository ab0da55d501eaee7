/**
 * Linting for the EOMS designer: bpmnlint's recommended rules plus EOMS's own, with a static resolver built
 * here (no bpmnlint-loader), handed to bpmn-js-bpmnlint as `linting: { bpmnlint: { config, resolver } }`.
 *
 * The time helpers (ISO durations, timer texts) live here too: the properties panel uses the same checks.
 * The EOMS rules mirror the server's deploy validation (engine/repository/validation.py, properties.py,
 * expressions.py): what the server refuses should already be marked while drawing.
 */

import recommended from 'bpmnlint/config/recommended.js';

import adHocSubProcess from 'bpmnlint/rules/ad-hoc-sub-process.js';
import conditionalFlows from 'bpmnlint/rules/conditional-flows.js';
import endEventRequired from 'bpmnlint/rules/end-event-required.js';
import eventBasedGateway from 'bpmnlint/rules/event-based-gateway.js';
import eventSubProcessTypedStartEvent from 'bpmnlint/rules/event-sub-process-typed-start-event.js';
import fakeJoin from 'bpmnlint/rules/fake-join.js';
import global from 'bpmnlint/rules/global.js';
import labelRequired from 'bpmnlint/rules/label-required.js';
import linkEvent from 'bpmnlint/rules/link-event.js';
import noBpmndi from 'bpmnlint/rules/no-bpmndi.js';
import noComplexGateway from 'bpmnlint/rules/no-complex-gateway.js';
import noDisconnected from 'bpmnlint/rules/no-disconnected.js';
import noDuplicateSequenceFlows from 'bpmnlint/rules/no-duplicate-sequence-flows.js';
import noGatewayJoinFork from 'bpmnlint/rules/no-gateway-join-fork.js';
import noImplicitSplit from 'bpmnlint/rules/no-implicit-split.js';
import noImplicitEnd from 'bpmnlint/rules/no-implicit-end.js';
import noImplicitStart from 'bpmnlint/rules/no-implicit-start.js';
import noInclusiveGateway from 'bpmnlint/rules/no-inclusive-gateway.js';
import noOverlappingElements from 'bpmnlint/rules/no-overlapping-elements.js';
import singleBlankStartEvent from 'bpmnlint/rules/single-blank-start-event.js';
import singleEventDefinition from 'bpmnlint/rules/single-event-definition.js';
import startEventRequired from 'bpmnlint/rules/start-event-required.js';
import subProcessBlankStartEvent from 'bpmnlint/rules/sub-process-blank-start-event.js';
import superfluousGateway from 'bpmnlint/rules/superfluous-gateway.js';
import superfluousLabel from 'bpmnlint/rules/superfluous-label.js';
import superfluousTermination from 'bpmnlint/rules/superfluous-termination.js';

const BPMNLINT_RULES = {
  'ad-hoc-sub-process': adHocSubProcess,
  'conditional-flows': conditionalFlows,
  'end-event-required': endEventRequired,
  'event-based-gateway': eventBasedGateway,
  'event-sub-process-typed-start-event': eventSubProcessTypedStartEvent,
  'fake-join': fakeJoin,
  'global': global,
  'label-required': labelRequired,
  'link-event': linkEvent,
  'no-bpmndi': noBpmndi,
  'no-complex-gateway': noComplexGateway,
  'no-disconnected': noDisconnected,
  'no-duplicate-sequence-flows': noDuplicateSequenceFlows,
  'no-gateway-join-fork': noGatewayJoinFork,
  'no-implicit-split': noImplicitSplit,
  'no-implicit-end': noImplicitEnd,
  'no-implicit-start': noImplicitStart,
  'no-inclusive-gateway': noInclusiveGateway,
  'no-overlapping-elements': noOverlappingElements,
  'single-blank-start-event': singleBlankStartEvent,
  'single-event-definition': singleEventDefinition,
  'start-event-required': startEventRequired,
  'sub-process-blank-start-event': subProcessBlankStartEvent,
  'superfluous-gateway': superfluousGateway,
  'superfluous-label': superfluousLabel,
  'superfluous-termination': superfluousTermination
};

/**
 * Recommended rules changed for EOMS, and why (each checked on the five business flows in processes/):
 * - fake-join: off. EOMS flows send a rejection back into the task it returns to (审核驳回 → 故障处理), a task
 *   with two incoming flows; SpiffWorkflow runs that and every business flow does it.
 * - no-inclusive-gateway: off. SpiffWorkflow runs inclusive gateways; eoms/gateway-conditions checks them.
 * - label-required: replaced by eoms/label-required, the same as a warning and without the start and end
 *   events of sub-processes (workplan's per-unit branch has un-named ones, as is usual).
 * - no-bpmndi: replaced by eoms/no-bpmndi, the same minus the lanes of a sub-process's own laneSet: the
 *   engine reads them (they give the tasks inside their posts) but bpmn-js cannot draw them, so such a
 *   marker could not be fixed in the designer.
 */
const RECOMMENDED_OVERRIDES = {
  'fake-join': 'off',
  'no-inclusive-gateway': 'off',
  'label-required': 'off',
  'no-bpmndi': 'off'
};

export const SPIFF_NS = 'http://spiffworkflow.org/bpmn/schema/1.0/core';
export const ACTIONS = [ 'transfer', 'return', 'suspend', 'extend' ];
export const DEFAULT_CALENDARS = [ 'workday', '24x7' ];


// time helpers //////////////////////////////////////////////////////////////////////////////////////////////

// the server's time limits: weeks, days, hours, minutes, seconds; whole numbers; not zero
const LIMIT_DURATION = /^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

// SpiffWorkflow's timer durations also take years and months and fractions
const N = '(\\d+(?:[.,]\\d+)?)';
const TIMER_DURATION = new RegExp(
  `^P(?!$)(?:${N}Y)?(?:${N}M)?(?:${N}W)?(?:${N}D)?(?:T(?=\\d)(?:${N}H)?(?:${N}M)?(?:${N}S)?)?$`, 'i');
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

// the server's _ISO_LIKE: what looks like an ISO value written without quotes
const ISO_LIKE = /^(R\d*\/)?P[\dTYMWDHS.]+$|^\d{4}-\d{2}-\d{2}/;

/**
 * Parse a time-limit duration (PT4H, P2D, P1DT4H30M, P1W) into seconds, or null when it is not one.
 * Zero durations are refused like on the server.
 */
export function parseLimitDuration(text) {
  const match = LIMIT_DURATION.exec((text || '').trim());
  if (!match) {
    return null;
  }
  const [ , w, d, h, m, s ] = match.map(v => (v ? parseInt(v, 10) : 0));
  const seconds = ((w * 7 + d) * 24 + h) * 3600 + m * 60 + s;
  return seconds > 0 ? seconds : null;
}

/**
 * The problems of a task's time properties, as the server sees them (engine/repository/properties.py):
 * a list of `{ property, message }` in the language `lang`.
 */
export function timeLimitProblems(props, lang = 'zh') {
  const t = texts(lang);
  const problems = [];
  const add = (property, message) => problems.push({ property, message });

  const limit = props.timeLimit;
  const isExpr = typeof limit === 'string' && limit.startsWith('=');
  let limitSeconds = null;

  if (limit !== undefined && limit !== '') {
    if (isExpr) {
      if (!limit.slice(1).trim()) {
        add('timeLimit', t.exprMissing);
      }
    } else {
      limitSeconds = parseLimitDuration(limit);
      if (limitSeconds === null) {
        add('timeLimit', t.badDuration('timeLimit', limit));
      }
    }
  }

  let warnBeforeSeconds = null;
  const warnBefore = props.warnBefore;
  if (warnBefore !== undefined && warnBefore !== '') {
    warnBeforeSeconds = parseLimitDuration(warnBefore);
    if (warnBeforeSeconds === null) {
      add('warnBefore', t.badDuration('warnBefore', warnBefore));
    }
  }

  let warnPercent = null;
  if (props.warnPercent) {
    const raw = props.warnPercent.trim().replace(/%$/, '');
    if (/^\d+$/.test(raw) && +raw >= 1 && +raw <= 99) {
      warnPercent = +raw;
    } else {
      add('warnPercent', t.badPercent(props.warnPercent));
    }
  }

  if (warnBeforeSeconds !== null && warnPercent !== null) {
    add('warnBefore', t.bothWarnings);
  }
  if ((warnBeforeSeconds !== null || warnPercent !== null) && !limit) {
    add('timeLimit', t.warningNeedsLimit);
  }
  if (warnBeforeSeconds !== null && limitSeconds !== null && warnBeforeSeconds >= limitSeconds) {
    add('warnBefore', t.warnNotShorter(warnBefore, limit));
  }
  return problems;
}

/** Validation of one time field for the properties panel: an error text or null. */
export function validateTimeField(name, value, lang = 'zh') {
  const t = texts(lang);
  if (!value) {
    return null;
  }
  if (name === 'timeLimit') {
    if (value.startsWith('=')) {
      return value.slice(1).trim() ? null : t.exprMissing;
    }
    return parseLimitDuration(value) === null ? t.badDuration(name, value) : null;
  }
  if (name === 'warnBefore') {
    return parseLimitDuration(value) === null ? t.badDuration(name, value) : null;
  }
  if (name === 'warnPercent') {
    const raw = value.trim().replace(/%$/, '');
    return /^\d+$/.test(raw) && +raw >= 1 && +raw <= 99 ? null : t.badPercent(value);
  }
  return null;
}

/** A quoted Python string literal's content, or null when the text is not one. */
export function quotedLiteral(text) {
  const value = (text || '').trim();
  const match = /^(['"])(.*)\1$/s.exec(value);
  if (!match || match[2].includes(match[1]) || match[2].includes('\\')) {
    return null;
  }
  return match[2];
}

/** Parse an ISO duration of a timer into its parts ({ years, months, weeks, days, hours, minutes, seconds }). */
export function parseTimerDuration(text) {
  const match = TIMER_DURATION.exec((text || '').trim());
  if (!match) {
    return null;
  }
  const names = [ 'years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds' ];
  const parts = {};
  names.forEach((name, i) => {
    if (match[i + 1]) {
      parts[name] = parseFloat(match[i + 1].replace(',', '.'));
    }
  });
  if (parts.weeks && (parts.years || parts.months || parts.days)) {
    return null; // SpiffWorkflow refuses weeks with other date parts
  }
  return parts;
}

/** Parse an ISO date-time of a timer: { date: 'YYYY-MM-DD', time: 'HH:MM' | null, zone } or null. */
export function parseTimerDate(text) {
  const match = DATE_TIME.exec((text || '').trim());
  if (!match) {
    return null;
  }
  const [ , y, mo, d, h, mi, , zone ] = match;
  if (+mo < 1 || +mo > 12 || +d < 1 || +d > 31 || (h && (+h > 23 || +mi > 59))) {
    return null;
  }
  return { date: `${y}-${mo}-${d}`, time: h ? `${h}:${mi}` : null, zone: zone || null };
}

/** Parse an ISO repeating interval (R[n]/start/duration, R[n]/duration/end, R[n]/duration). */
export function parseTimerCycle(text) {
  const value = (text || '').trim().toUpperCase().replace('--', '/');
  const match = /^R(\d*)\/([^/]+)(?:\/([^/]+))?$/.exec(value);
  if (!match) {
    return null;
  }
  const [ , count, first, second ] = match;
  const cycles = count ? parseInt(count, 10) : null;
  if (second === undefined) {
    const duration = parseTimerDuration(first);
    return duration ? { cycles, duration } : null;
  }
  const start = parseTimerDate(first);
  if (start) {
    const duration = parseTimerDuration(second);
    return duration ? { cycles, start, duration } : null;
  }
  const duration = parseTimerDuration(first);
  const end = parseTimerDate(second);
  return duration && end ? { cycles, duration, end } : null;
}

/**
 * What is wrong with a timer text of `kind` (timeDuration, timeDate, timeCycle), or null; like the server's
 * timer_problem: the text is a Python expression, so an ISO literal must be quoted.
 */
export function timerProblem(kind, text, lang = 'zh') {
  const t = texts(lang);
  const value = (text || '').trim();
  if (!value) {
    return t.timerEmpty(kind);
  }
  if (ISO_LIKE.test(value)) {
    return t.timerUnquoted(value);
  }
  const literal = quotedLiteral(value);
  if (literal === null) {
    return null; // an expression computed at run time
  }
  const parse = { timeDuration: parseTimerDuration, timeDate: parseTimerDate, timeCycle: parseTimerCycle }[kind];
  if (parse && !parse(literal)) {
    return t.timerInvalid(kind, literal);
  }
  return null;
}

function durationText(parts, lang) {
  const zh = lang !== 'en';
  const units = zh
    ? [ [ 'years', '年' ], [ 'months', '个月' ], [ 'weeks', '周' ], [ 'days', '天' ], [ 'hours', '小时' ],
      [ 'minutes', '分钟' ], [ 'seconds', '秒' ] ]
    : [ [ 'years', ' year' ], [ 'months', ' month' ], [ 'weeks', ' week' ], [ 'days', ' day' ],
      [ 'hours', ' hour' ], [ 'minutes', ' minute' ], [ 'seconds', ' second' ] ];
  const out = units.filter(([ k ]) => parts[k]).map(([ k, u ]) => {
    const n = parts[k];
    return zh ? `${n}${u}` : `${n}${u}${n === 1 ? '' : 's'}`;
  });
  if (!out.length) {
    return zh ? '0秒' : '0 seconds';
  }
  return zh ? out.join('') : out.join(' ');
}

function everyText(parts, lang) {
  const zh = lang !== 'en';
  const keys = Object.keys(parts).filter(k => parts[k]);
  if (keys.length === 1 && parts[keys[0]] === 1) {
    const single = zh
      ? { days: '每天', weeks: '每周', months: '每月', years: '每年' }
      : { days: 'every day', weeks: 'every week', months: 'every month', years: 'every year',
        hours: 'every hour', minutes: 'every minute', seconds: 'every second' };
    if (single[keys[0]]) {
      return single[keys[0]];
    }
  }
  return zh ? `每${durationText(parts, lang)}` : `every ${durationText(parts, lang)}`;
}

function dateText(date) {
  return date.time ? `${date.date} ${date.time}` : date.date;
}

/**
 * A readable preview of a timer text: `{ text }` for a literal it understands, `{ hint }` when the text
 * needs fixing (e.g. missing quotes), `{ expression: true, text }` for an expression computed at run time.
 */
export function timerPreview(kind, text, lang = 'zh') {
  const zh = lang !== 'en';
  const value = (text || '').trim();
  if (!value) {
    return null;
  }
  if (ISO_LIKE.test(value)) {
    return { hint: texts(lang).timerUnquoted(value) };
  }
  const literal = quotedLiteral(value);
  if (literal === null) {
    return { expression: true, text: zh ? '表达式，运行时计算' : 'an expression, computed at run time' };
  }
  const duration = parseTimerDuration(literal);
  const date = parseTimerDate(literal);
  const cycle = parseTimerCycle(literal);
  if ((kind === 'timeDuration' || (!kind && duration)) && duration) {
    return { text: zh ? `${durationText(duration, lang)}后` : `after ${durationText(duration, lang)}` };
  }
  if ((kind === 'timeDate' || (!kind && date)) && date) {
    return { text: zh ? `于 ${dateText(date)}` : `at ${dateText(date)}` };
  }
  if ((kind === 'timeCycle' || (!kind && cycle)) && cycle) {
    const parts = [];
    if (cycle.start) {
      parts.push(zh ? `从 ${dateText(cycle.start)} 起${everyText(cycle.duration, lang)}`
        : `from ${dateText(cycle.start)} ${everyText(cycle.duration, lang)}`);
    } else {
      parts.push(everyText(cycle.duration, lang));
    }
    if (cycle.cycles !== null) {
      parts.push(zh ? `共${cycle.cycles}次` : `${cycle.cycles} times`);
    }
    if (cycle.end) {
      parts.push(zh ? `至 ${dateText(cycle.end)}` : `until ${dateText(cycle.end)}`);
    }
    return { text: parts.join(zh ? '，' : ', ') };
  }
  return { hint: texts(lang).timerInvalid(kind || 'timer', literal) };
}


// model helpers /////////////////////////////////////////////////////////////////////////////////////////////

function isType(node, type) {
  return !!node && typeof node.$instanceOf === 'function' && node.$instanceOf(type);
}

/** The spiffworkflow extension elements of `type` (e.g. 'spiffworkflow:properties') of a business object. */
export function spiffExtensions(bo, type) {
  const ext = bo && bo.get ? bo.get('extensionElements') : null;
  const values = (ext && ext.get('values')) || [];
  return values.filter(v => v.$type === type);
}

/** The task's spiffworkflow:property values as an object; a repeated name keeps its last value, as in
 * SpiffWorkflow (which fills a dict in document order). */
export function spiffProperties(bo) {
  const result = {};
  spiffExtensions(bo, 'spiffworkflow:properties').forEach(container => {
    (container.get('properties') || []).forEach(p => {
      if (p.name) {
        result[p.name] = p.value === undefined ? '' : p.value;
      }
    });
  });
  return result;
}

/** Tasks people do: the server treats user, manual and plain tasks alike for lanes. */
export function isHumanTask(node) {
  return isType(node, 'bpmn:UserTask') || isType(node, 'bpmn:ManualTask') || node.$type === 'bpmn:Task';
}

function lanesOf(container) {
  const byNode = {};
  const walk = laneSet => {
    ((laneSet && laneSet.lanes) || []).forEach(lane => {
      (lane.flowNodeRef || []).forEach(ref => {
        if (ref && ref.id) {
          byNode[ref.id] = lane;
        }
      });
      if (lane.childLaneSet) {
        walk(lane.childLaneSet);
      }
    });
  };
  (container.laneSets || []).forEach(walk);
  return byNode;
}

/** The lane a flow node sits in: its container's lanes, else the lane of the enclosing sub-process node. */
export function laneOf(node) {
  let current = node;
  while (current && current.$parent) {
    const container = current.$parent;
    if (!isType(container, 'bpmn:FlowElementsContainer')) {
      return null;
    }
    const lane = lanesOf(container)[current.id];
    if (lane) {
      return lane;
    }
    if (!isType(container, 'bpmn:SubProcess')) {
      return null;
    }
    current = container;
  }
  return null;
}

/**
 * A handler's parameters as `{ name, required }`: the page lists them as names (with the required ones in
 * `required`) or as `{ name, required }` objects (HandlerRegistry.describe()).
 */
function handlerParams(handler) {
  const required = new Set((handler && handler.required) || []);
  return ((handler && handler.params) || []).map(p => (typeof p === 'string'
    ? { name: p, required: required.has(p) }
    : { name: p.name, required: !!p.required || required.has(p.name) }));
}

/** The page's handlers as `{ name, doc, params: [{ name, required }] }`. */
export function normalizeHandlers(handlers) {
  return (handlers || []).map(h => (typeof h === 'string'
    ? { name: h, doc: '', params: [] }
    : { name: h.name, doc: h.doc || '', params: handlerParams(h) }));
}


// texts /////////////////////////////////////////////////////////////////////////////////////////////////////

const oneLine = text => String(text).replace(/\s+/g, ' ').trim();

const TEXTS = {
  zh: {
    noLane: '人工任务必须位于指定岗位的泳道中',
    laneUnnamed: '任务所在的泳道没有名称，泳道名称应为岗位的编码或名称',
    laneUnknown: name => `泳道「${name}」不是已有岗位的编码或名称`,
    noHandler: '服务任务没有指定处理程序',
    unknownHandler: name => `处理程序「${name}」未注册`,
    missingParam: (handler, param) => `处理程序 ${handler} 缺少必填参数 ${param}`,
    emptyParam: param => `参数 ${param} 没有值（清空参数值即删除该参数）`,
    badDuration: (name, value) => `${name}「${value}」不是 ISO-8601 时长（只用周/天/时/分/秒，如 PT4H、P2D）`,
    exprMissing: 'timeLimit 的「=」后面应是给出 ISO-8601 时长的表达式',
    badPercent: value => `warnPercent「${value}」不是 1 到 99 的整数`,
    bothWarnings: 'warnBefore 与 warnPercent 只能设置其一',
    warningNeedsLimit: '设置预警需要先设置时限 timeLimit',
    warnNotShorter: (warn, limit) => `预警提前量 ${warn} 不短于时限 ${limit}`,
    badCalendar: (value, calendars) => `工作日历「${value}」不是 ${calendars.join('、')} 之一`,
    badAllow: (unknown) => `未知的操作 ${unknown.join('、')}；可用：${ACTIONS.join(', ')}`,
    badVariable: (name, value) => `${name}「${value}」不是合法的变量名`,
    unknownForm: key => `表单「${key}」不存在`,
    timerEmpty: kind => `定时器 ${kind} 为空`,
    timerMissing: '定时器没有设置时间（时长、日期或周期）',
    timerUnquoted: value => `请加引号："${value}"`,
    timerInvalid: (kind, value) => `定时器 ${kind} 的值「${value}」不是有效的 ISO-8601 值`,
    gatewayFlow: name => `网关${name ? `「${oneLine(name)}」` : ''}的输出流既无条件也不是默认流`
  },
  en: {
    noLane: 'A task people do must sit in a lane that names a post',
    laneUnnamed: "The task's lane has no name; a lane is named by a post's code or name",
    laneUnknown: name => `Lane '${name}' is not the code or name of an existing post`,
    noHandler: 'The service task names no handler',
    unknownHandler: name => `No handler named '${name}' is registered`,
    missingParam: (handler, param) => `Handler ${handler} needs the parameter ${param}`,
    emptyParam: param => `Parameter ${param} has no value (clear a value to remove its parameter)`,
    badDuration: (name, value) => `${name} '${value}' is not an ISO-8601 duration of weeks, days, hours, `
      + 'minutes or seconds (e.g. PT4H, P2D)',
    exprMissing: "timeLimit: '=' must be followed by an expression giving an ISO-8601 duration",
    badPercent: value => `warnPercent '${value}' is not a whole percentage from 1 to 99`,
    bothWarnings: 'Set either warnBefore or warnPercent, not both',
    warningNeedsLimit: 'A warning needs a timeLimit',
    warnNotShorter: (warn, limit) => `Warning lead time ${warn} is not shorter than the limit ${limit}`,
    badCalendar: (value, calendars) => `Calendar '${value}' is not one of ${calendars.join(', ')}`,
    badAllow: (unknown) => `Unknown action(s) ${unknown.join(', ')}; allowed: ${ACTIONS.join(', ')}`,
    badVariable: (name, value) => `${name} '${value}' is not a variable name`,
    unknownForm: key => `No form named '${key}'`,
    timerEmpty: kind => `Timer ${kind} is empty`,
    timerMissing: 'The timer has no duration, date or cycle',
    timerUnquoted: value => `Add quotes: "${value}" (timer values are expressions)`,
    timerInvalid: (kind, value) => `Timer ${kind} '${value}' is not a valid ISO-8601 value`,
    gatewayFlow: name => `An outgoing flow of gateway${name ? ` '${oneLine(name)}'` : ''} has neither a condition `
      + 'nor is the default'
  }
};

export function texts(lang) {
  return TEXTS[lang === 'en' ? 'en' : 'zh'];
}


// EOMS rules ////////////////////////////////////////////////////////////////////////////////////////////////

function lanesIsPost(config = {}) {
  const t = texts(config.lang);
  const known = new Set();
  (config.posts || []).forEach(p => {
    if (typeof p === 'string') {
      known.add(p);
    } else {
      p.code && known.add(p.code);
      p.name && known.add(p.name);
    }
  });
  const checkNames = known.size > 0;

  function check(node, reporter) {
    if (!isHumanTask(node)) {
      return;
    }
    const lane = laneOf(node);
    if (!lane) {
      reporter.report(node.id, t.noLane);
    } else if (!(lane.name || '').trim()) {
      reporter.report(node.id, t.laneUnnamed);
    } else if (checkNames && !known.has(lane.name.trim())) {
      reporter.report(node.id, t.laneUnknown(lane.name));
    }
  }
  return { check };
}

function serviceHandler(config = {}) {
  const t = texts(config.lang);
  const handlers = normalizeHandlers(config.handlers);
  const byName = Object.fromEntries(handlers.map(h => [ h.name, h ]));

  function check(node, reporter) {
    if (!isType(node, 'bpmn:ServiceTask')) {
      return;
    }
    const operator = spiffExtensions(node, 'spiffworkflow:serviceTaskOperator')[0];
    const name = operator && (operator.get('id') || '').trim();
    if (!name) {
      reporter.report(node.id, t.noHandler);
      return;
    }
    const container = operator.get('parameters');
    const params = (container && container.get('parameters')) || [];
    params.filter(p => !(p.value || '').trim()).forEach(p => {
      reporter.report(node.id, t.emptyParam(p.id || p.name || '?'));
    });
    if (!handlers.length) {
      return;
    }
    const handler = byName[name];
    if (!handler) {
      reporter.report(node.id, t.unknownHandler(name));
      return;
    }
    const given = new Set(params.filter(p => (p.value || '').trim()).map(p => p.id || p.name));
    handler.params.filter(p => p.required && !given.has(p.name)).forEach(p => {
      reporter.report(node.id, t.missingParam(name, p.name));
    });
  }
  return { check };
}

function timeLimit(config = {}) {
  function check(node, reporter) {
    if (!isType(node, 'bpmn:UserTask') && !isType(node, 'bpmn:ManualTask')) {
      return;
    }
    timeLimitProblems(spiffProperties(node), config.lang).forEach(problem => {
      reporter.report(node.id, problem.message, [ 'extensionElements', problem.property ]);
    });
  }
  return { check };
}

const IDENTIFIER = /^[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_\u00C0-\uFFFF]*$/;

function taskProperties(config = {}) {
  const t = texts(config.lang);
  const calendars = (config.calendars && config.calendars.length) ? config.calendars : DEFAULT_CALENDARS;
  const actions = (config.actions && config.actions.length) ? config.actions : ACTIONS;

  function check(node, reporter) {
    if (!isType(node, 'bpmn:UserTask') && !isType(node, 'bpmn:ManualTask')) {
      return;
    }
    const props = spiffProperties(node);
    // `=expression`: a calendar computed when the task arrives; the server compiles it at deploy
    if (props.calendar && !props.calendar.startsWith('=') && !calendars.includes(props.calendar)) {
      reporter.report(node.id, t.badCalendar(props.calendar, calendars));
    }
    if (props.allow !== undefined) {
      const unknown = props.allow.split(',').map(a => a.trim()).filter(a => a && !actions.includes(a));
      if (unknown.length) {
        reporter.report(node.id, t.badAllow(unknown));
      }
    }
    [ 'postVar', 'orgUnitVar' ].forEach(name => {
      if (props[name] && !IDENTIFIER.test(props[name])) {
        reporter.report(node.id, t.badVariable(name, props[name]));
      }
    });
  }
  return { check };
}

function formKey(config = {}) {
  const t = texts(config.lang);
  const forms = new Set(config.forms || []);

  function check(node, reporter) {
    if (!forms.size || (!isType(node, 'bpmn:UserTask') && !isType(node, 'bpmn:ManualTask')
      && !isType(node, 'bpmn:StartEvent'))) {
      return;
    }
    const key = spiffProperties(node).formKey;
    if (key && !forms.has(key)) {
      reporter.report(node.id, t.unknownForm(key));
    }
  }
  return { check };
}

function timerQuoted(config = {}) {
  const t = texts(config.lang);

  function check(node, reporter) {
    if (!isType(node, 'bpmn:TimerEventDefinition')) {
      return;
    }
    const owner = node.$parent;
    if (!owner || !owner.id) {
      return;
    }
    const kinds = [ 'timeDuration', 'timeDate', 'timeCycle' ].filter(kind => node.get(kind));
    if (!kinds.length) {
      reporter.report(owner.id, t.timerMissing);
      return;
    }
    kinds.forEach(kind => {
      const problem = timerProblem(kind, node.get(kind).get('body'), config.lang);
      if (problem) {
        reporter.report(owner.id, problem);
      }
    });
  }
  return { check };
}

/** A node's outgoing flows by their sourceRef (files without <bpmn:outgoing> elements have them too). */
function outgoingFlows(node) {
  const container = node.$parent;
  const flows = ((container && container.flowElements) || [])
    .filter(el => isType(el, 'bpmn:SequenceFlow') && el.sourceRef === node);
  return flows.length ? flows : (node.outgoing || []);
}

function gatewayConditions(config = {}) {
  const t = texts(config.lang);

  function check(node, reporter) {
    if (!isType(node, 'bpmn:ExclusiveGateway') && !isType(node, 'bpmn:InclusiveGateway')) {
      return;
    }
    const outgoing = outgoingFlows(node);
    if (outgoing.length < 2) {
      return;
    }

    // a gateway with a default or a condition is bpmnlint's conditional-flows' (no double markers)
    if (node.default || outgoing.some(flow => flow.conditionExpression)) {
      return;
    }
    outgoing.forEach(flow => {
      reporter.report(flow.id, t.gatewayFlow(node.name), [ 'conditionExpression' ]);
    });
  }
  return { check };
}

/** A rule factory that drops the reports `ignore(id, node)` says to (node: the node being checked). */
function ignoring(factory, ignore) {
  return config => {
    const rule = factory(config);
    const wrap = fn => fn && ((node, reporter) => fn(node, {
      report(id, message, path) {
        if (!ignore(id, node)) {
          reporter.report(id, message, path);
        }
      }
    }));
    const check = rule.check;
    return {
      ...rule,
      check: typeof check === 'function' ? wrap(check) : { enter: wrap(check.enter), leave: wrap(check.leave) }
    };
  };
}

function subProcessLaneIds(definitions) {
  const ids = new Set();
  const visit = container => {
    (container.flowElements || []).forEach(el => {
      if (isType(el, 'bpmn:SubProcess')) {
        const walk = laneSet => ((laneSet && laneSet.lanes) || []).forEach(lane => {
          ids.add(lane.id);
          walk(lane.childLaneSet);
        });
        (el.laneSets || []).forEach(walk);
        visit(el);
      }
    });
  };
  (definitions.rootElements || []).forEach(visit);
  return ids;
}

const eomsNoBpmndi = ignoring(noBpmndi, (id, definitions) => subProcessLaneIds(definitions).has(id));

const eomsLabelRequired = ignoring(labelRequired, (id, node) => (
  (isType(node, 'bpmn:StartEvent') || isType(node, 'bpmn:EndEvent')) && isType(node.$parent, 'bpmn:SubProcess')
));

export const EOMS_RULES = {
  'lane-is-post': lanesIsPost,
  'service-handler': serviceHandler,
  'time-limit': timeLimit,
  'task-properties': taskProperties,
  'form-key': formKey,
  'timer-quoted': timerQuoted,
  'gateway-conditions': gatewayConditions,
  'no-bpmndi': eomsNoBpmndi,
  'label-required': eomsLabelRequired
};


/**
 * The linter configuration for bpmn-js-bpmnlint: `{ config, resolver }`.
 *
 * `eoms` is the page's config (posts, handlers, forms, calendars, actions, lang). Rule names: bpmnlint's as
 * they are ('no-disconnected', …) and ours as 'eoms/<name>' (package bpmnlint-plugin-eoms).
 */
export function createLintConfig(eoms = {}) {
  const options = {
    lang: eoms.lang,
    posts: eoms.posts || [],
    handlers: eoms.handlers || [],
    forms: eoms.forms || [],
    calendars: eoms.calendars || [],
    actions: eoms.actions || []
  };

  const cache = {
    'config:bpmnlint/recommended': recommended
  };
  Object.entries(BPMNLINT_RULES).forEach(([ name, rule ]) => {
    cache[`rule:bpmnlint/${name}`] = rule;
  });
  Object.entries(EOMS_RULES).forEach(([ name, rule ]) => {
    cache[`rule:bpmnlint-plugin-eoms/${name}`] = rule;
  });

  const resolver = {
    resolveRule(pkg, ruleName) {
      const rule = cache[`rule:${pkg}/${ruleName}`];
      if (!rule) {
        throw new Error(`unknown rule <${pkg}/${ruleName}>`);
      }
      return rule;
    },
    resolveConfig(pkg, configName) {
      const config = cache[`config:${pkg}/${configName}`];
      if (!config) {
        throw new Error(`unknown config <${pkg}/${configName}>`);
      }
      return config;
    }
  };

  const config = {
    extends: 'bpmnlint:recommended',
    rules: {
      ...RECOMMENDED_OVERRIDES,
      'eoms/lane-is-post': [ 'error', options ],
      'eoms/service-handler': [ 'error', options ],
      'eoms/time-limit': [ 'error', options ],
      'eoms/task-properties': [ 'error', options ],
      'eoms/form-key': [ 'warn', options ],
      'eoms/timer-quoted': [ 'error', options ],
      'eoms/gateway-conditions': [ 'error', options ],
      'eoms/no-bpmndi': 'error',
      'eoms/label-required': 'warn'
    }
  };

  return { config, resolver };
}
