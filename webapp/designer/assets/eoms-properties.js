/**
 * The EOMS properties provider for bpmn-js-properties-panel (v5 API): groups for user/manual tasks (岗位与时限),
 * start events (发起表单), lanes (岗位), service tasks (服务) and a readable preview under the standard timer
 * fields.
 *
 * Every write goes through the command stack ('properties-panel.multi-command-executor' of
 * 'element.updateModdleProperties' commands), so undo/redo work; missing `bpmn:extensionElements` and
 * `spiffworkflow:properties` / `spiffworkflow:serviceTaskOperator` are created on the first write, a property is
 * removed when its field is cleared.
 *
 * The page's config is the `eoms` option of the modeler (service 'config.eoms').
 */

import {
  CheckboxEntry,
  Group,
  SelectEntry,
  TextFieldEntry,
  isCheckboxEntryEdited,
  isSelectEntryEdited,
  isTextFieldEntryEdited
} from '@bpmn-io/properties-panel';
import { useState } from '@bpmn-io/properties-panel/preact/hooks';
import { jsx, jsxs } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import {
  ACTIONS,
  DEFAULT_CALENDARS,
  normalizeHandlers,
  spiffExtensions,
  spiffProperties,
  timeLimitProblems,
  timerPreview,
  validateTimeField
} from './lint-rules.js';

const LOW_PRIORITY = 500;

const LABELS = {
  zh: {
    taskGroup: 'EOMS 岗位与时限',
    laneGroup: 'EOMS 岗位',
    startGroup: 'EOMS 发起表单',
    serviceGroup: 'EOMS 服务',
    formKey: '表单',
    editForm: key => `编辑表单 ${key}`,
    none: '（无）',
    unknownSuffix: '（未知）',
    timeLimit: '时限',
    timeLimitHelp: 'ISO-8601 时长，如 PT4H、P2D、P1DT4H；或 =表达式，如 ="PT2H" if vip else "PT4H"',
    warnBefore: '预警提前量',
    warnBeforeHelp: '如 PT30M；比时限短；与预警比例二选一',
    warnPercent: '预警比例',
    warnPercentHelp: '时限过去百分之几时预警，1–99',
    calendar: '工作日历',
    calendarDefault: '默认（workday）',
    calendarNames: { workday: '工作日 workday', '24x7': '全天 24x7' },
    allow: '允许的操作',
    allowHelp: '全部勾选 = 不限制（不写 allow 属性）',
    actionNames: { transfer: '转派', return: '退回', suspend: '挂起', extend: '延期' },
    postVar: '岗位变量',
    postVarHelp: '可选：流程变量，值为岗位编码（代替泳道）',
    orgUnitVar: '单位变量',
    orgUnitVarHelp: '可选：流程变量，值为单位编码',
    badVariable: '不是合法的变量名',
    post: '岗位',
    postNone: '（未选择）',
    postUnknown: name => `「${name}」（不是已有岗位）`,
    postHelp: '泳道名称即岗位；选择后泳道名称设为岗位编码（原为岗位名称时设为名称）',
    handler: '处理程序',
    resultVariable: '结果变量',
    resultVariableHelp: '可选：处理程序的返回值存入此变量',
    param: name => `参数 ${name}`,
    paramRequired: '（必填）',
    paramUndeclared: '（处理程序未声明）',
    paramHelp: 'Python 表达式：文字要加引号，如 \'dispatch\'；变量直接写，如 route_post；清空即删除该参数',
    newParam: '添加参数',
    newParamHelp: '处理程序未列出的参数（如短信模板变量）：输入参数名后回车，上方出现它的取值栏',
    paramExists: name => `参数 ${name} 已存在`,
    timerPreview: '含义'
  },
  en: {
    taskGroup: 'EOMS post and time limit',
    laneGroup: 'EOMS post',
    startGroup: 'EOMS start form',
    serviceGroup: 'EOMS service',
    formKey: 'Form',
    editForm: key => `Edit form ${key}`,
    none: '(none)',
    unknownSuffix: ' (unknown)',
    timeLimit: 'Time limit',
    timeLimitHelp: 'ISO-8601 duration such as PT4H, P2D, P1DT4H; or =expression, e.g. ="PT2H" if vip else "PT4H"',
    warnBefore: 'Warn before',
    warnBeforeHelp: 'e.g. PT30M; shorter than the limit; either this or the percentage',
    warnPercent: 'Warn at percent',
    warnPercentHelp: 'warn when this share of the limit has passed, 1–99',
    calendar: 'Calendar',
    calendarDefault: 'default (workday)',
    calendarNames: { workday: 'workday', '24x7': '24x7' },
    allow: 'Allowed actions',
    allowHelp: 'all checked = no restriction (no allow property)',
    actionNames: { transfer: 'Transfer', return: 'Return', suspend: 'Suspend', extend: 'Extend' },
    postVar: 'Post variable',
    postVarHelp: 'optional: a variable holding the post code (instead of the lane)',
    orgUnitVar: 'Org unit variable',
    orgUnitVarHelp: 'optional: a variable holding the org unit code',
    badVariable: 'not a variable name',
    post: 'Post',
    postNone: '(none)',
    postUnknown: name => `'${name}' (not a post)`,
    postHelp: "the lane's name is the post; choosing one sets it to the post's code (its name if it was a name)",
    handler: 'Handler',
    resultVariable: 'Result variable',
    resultVariableHelp: "optional: the variable the handler's result goes to",
    param: name => `Parameter ${name}`,
    paramRequired: ' (required)',
    paramUndeclared: ' (not declared by the handler)',
    paramHelp: "Python expression: quote text, e.g. 'dispatch'; write variables as they are, e.g. route_post; "
      + 'clear it to remove the parameter',
    newParam: 'Add parameter',
    newParamHelp: 'a parameter the handler does not list (e.g. a template variable): type its name and press '
      + 'Enter; its value field appears above',
    paramExists: name => `parameter ${name} exists already`,
    timerPreview: 'Meaning'
  }
};

const IDENTIFIER = /^[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_\u00C0-\uFFFF]*$/;

function useEoms() {
  const config = useService('config.eoms', false) || {};
  const lang = config.lang === 'en' ? 'en' : 'zh';
  return { config, lang, labels: LABELS[lang] };
}

function safeId(text) {
  return String(text).replace(/[^A-Za-z0-9_-]/g, '_');
}


// writing ///////////////////////////////////////////////////////////////////////////////////////////////////

function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

function execute(commandStack, commands) {
  if (commands.length) {
    commandStack.execute('properties-panel.multi-command-executor', commands);
  }
}

/** The element's extensionElements, created (and a command queued) when missing. */
function ensureExtensionElements(element, bo, bpmnFactory, commands) {
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    commands.push(update(element, bo, { extensionElements: ext }));
  }
  return ext;
}

/** The first extension of `type`, created with `attrs` (and a command queued) when missing. */
function ensureExtension(element, bo, type, attrs, bpmnFactory, commands) {
  const existing = spiffExtensions(bo, type)[0];
  if (existing) {
    return existing;
  }
  const ext = ensureExtensionElements(element, bo, bpmnFactory, commands);
  const created = bpmnFactory.create(type, attrs);
  created.$parent = ext;
  commands.push(update(element, ext, { values: [ ...(ext.get('values') || []), created ] }));
  return created;
}

/**
 * Set the spiffworkflow:property `name` of the element to `value`; an empty or undefined value removes it
 * (unless `keepEmpty`, for allow="" which means "no action").
 */
export function setSpiffProperty(element, name, value, { bpmnFactory, commandStack }, keepEmpty = false) {
  const bo = getBusinessObject(element);
  const remove = value === undefined || value === null || (value === '' && !keepEmpty);
  const commands = [];

  if (remove) {
    spiffExtensions(bo, 'spiffworkflow:properties').forEach(container => {
      const props = container.get('properties') || [];
      const kept = props.filter(p => p.name !== name);
      if (kept.length !== props.length) {
        commands.push(update(element, container, { properties: kept }));
      }
    });
    execute(commandStack, commands);
    return;
  }

  const containers = spiffExtensions(bo, 'spiffworkflow:properties');
  const holding = containers.filter(c => (c.get('properties') || []).some(p => p.name === name));
  if (holding.length) {
    const container = holding[holding.length - 1];
    const matches = container.get('properties').filter(p => p.name === name);
    commands.push(update(element, matches[matches.length - 1], { value }));
  } else {
    const container = ensureExtension(element, bo, 'spiffworkflow:properties', { properties: [] },
      bpmnFactory, commands);
    const property = bpmnFactory.create('spiffworkflow:property', { name, value });
    property.$parent = container;
    commands.push(update(element, container, { properties: [ ...(container.get('properties') || []), property ] }));
  }
  execute(commandStack, commands);
}

function operatorOf(element) {
  return spiffExtensions(getBusinessObject(element), 'spiffworkflow:serviceTaskOperator')[0] || null;
}

function ensureOperator(element, bpmnFactory, commands) {
  const bo = getBusinessObject(element);
  return ensureExtension(element, bo, 'spiffworkflow:serviceTaskOperator', {}, bpmnFactory, commands);
}

/** Set an attribute (id, resultVariable) of the service task's operator; '' removes it. */
export function setOperatorAttr(element, attr, value, { bpmnFactory, commandStack }) {
  const commands = [];
  const existing = operatorOf(element);
  if (!existing && !value) {
    return;
  }
  const operator = existing || ensureOperator(element, bpmnFactory, commands);
  if (existing) {
    commands.push(update(element, operator, { [attr]: value || undefined }));
  } else {
    operator[attr] = value; // a new operator: the attribute goes in with it
  }
  execute(commandStack, commands);
}

function parametersOf(operator) {
  const container = operator && operator.get('parameters');
  return (container && container.get('parameters')) || [];
}

/**
 * Set the value of a spiffworkflow:parameter (type "any"); '' removes the parameter, unless `create` (a
 * parameter added by name, its value still to be written).
 */
export function setParameter(element, name, value, { bpmnFactory, commandStack }, create = false) {
  const commands = [];
  let operator = operatorOf(element);
  const params = parametersOf(operator);
  const existing = params.find(p => (p.id || p.name) === name);

  if (!value && !(create && !existing)) {
    if (existing) {
      const container = operator.get('parameters');
      commands.push(update(element, container, { parameters: params.filter(p => p !== existing) }));
    }
    execute(commandStack, commands);
    return;
  }
  if (existing) {
    commands.push(update(element, existing, { value }));
    execute(commandStack, commands);
    return;
  }
  if (!operator) {
    operator = ensureOperator(element, bpmnFactory, commands);
  }
  let container = operator.get('parameters');
  if (!container) {
    container = bpmnFactory.create('spiffworkflow:parameters', { parameters: [] });
    container.$parent = operator;
    commands.push(update(element, operator, { parameters: container }));
  }
  const parameter = bpmnFactory.create('spiffworkflow:parameter', { id: name, type: 'any', value });
  parameter.$parent = container;
  commands.push(update(element, container, { parameters: [ ...(container.get('parameters') || []), parameter ] }));
  execute(commandStack, commands);
}


// entries: user and manual tasks ////////////////////////////////////////////////////////////////////////////

function useWriter() {
  return {
    bpmnFactory: useService('bpmnFactory'),
    commandStack: useService('commandStack')
  };
}

function PropertyText(props) {
  const { element, id, name, label, description, validate } = props;
  const writer = useWriter();
  const debounce = useService('debounceInput');

  return TextFieldEntry({
    element,
    id,
    label,
    description,
    debounce,
    validate,
    getValue: () => spiffProperties(getBusinessObject(element))[name] || '',
    setValue: value => setSpiffProperty(element, name, (value || '').trim() ? value.trim() : '', writer)
  });
}

function FormKeySelect(props) {
  const { element, id } = props;
  const { config, labels } = useEoms();
  const writer = useWriter();

  const getValue = () => spiffProperties(getBusinessObject(element)).formKey || '';
  const getOptions = () => {
    const forms = config.forms || [];
    const current = getValue();
    const options = [ { value: '', label: labels.none }, ...forms.map(f => ({ value: f, label: f })) ];
    if (current && !forms.includes(current)) {
      options.push({ value: current, label: current + labels.unknownSuffix });
    }
    return options;
  };

  const current = getValue();
  const editor = current && config.formEditorUrl
    ? jsx('a', { href: config.formEditorUrl.replace('__FORM__', encodeURIComponent(current)), target: '_blank',
      rel: 'noopener', class: 'eoms-form-link', children: labels.editForm(current) })
    : undefined;

  return SelectEntry({
    element,
    id,
    label: labels.formKey,
    description: editor,
    getValue,
    getOptions,
    setValue: value => setSpiffProperty(element, 'formKey', value || '', writer)
  });
}

function CalendarSelect(props) {
  const { element, id } = props;
  const { config, labels } = useEoms();
  const writer = useWriter();

  const getValue = () => spiffProperties(getBusinessObject(element)).calendar || '';
  const getOptions = () => {
    const calendars = (config.calendars && config.calendars.length) ? config.calendars : DEFAULT_CALENDARS;
    const current = getValue();
    const options = [ { value: '', label: labels.calendarDefault },
      ...calendars.map(c => ({ value: c, label: labels.calendarNames[c] || c })) ];
    if (current && !calendars.includes(current)) {
      options.push({ value: current, label: current.startsWith('=') ? current : current + labels.unknownSuffix });
    }
    return options;
  };

  return SelectEntry({
    element,
    id,
    label: labels.calendar,
    getValue,
    getOptions,
    setValue: value => setSpiffProperty(element, 'calendar', value || '', writer)
  });
}

function allActions(config) {
  return (config.actions && config.actions.length) ? config.actions : ACTIONS;
}

function allowedSet(element, actions) {
  const raw = spiffProperties(getBusinessObject(element)).allow;
  if (raw === undefined) {
    return new Set(actions);
  }
  return new Set(raw.split(',').map(a => a.trim()).filter(Boolean));
}

function AllowHeading(props) {
  const { labels } = useEoms();
  return jsxs('div', {
    class: 'bio-properties-panel-entry eoms-subheading',
    'data-entry-id': props.id,
    children: [
      jsx('div', { class: 'bio-properties-panel-label', children: labels.allow }),
      jsx('div', { class: 'bio-properties-panel-description', children: labels.allowHelp })
    ]
  });
}

function AllowCheckbox(props) {
  const { element, id, action } = props;
  const { config, labels } = useEoms();
  const writer = useWriter();
  const actions = allActions(config);

  return CheckboxEntry({
    element,
    id,
    label: `${labels.actionNames[action] || action} ${action}`,
    getValue: () => allowedSet(element, actions).has(action),
    setValue: checked => {
      const set = allowedSet(element, actions);
      if (checked) {
        set.add(action);
      } else {
        set.delete(action);
      }
      const unknown = [ ...set ].filter(a => !actions.includes(a));
      if (!unknown.length && actions.every(a => set.has(a))) {
        setSpiffProperty(element, 'allow', '', writer); // all allowed: no property
      } else {
        const ordered = [ ...actions.filter(a => set.has(a)), ...unknown ];
        setSpiffProperty(element, 'allow', ordered.join(','), writer, true);
      }
    }
  });
}

function TimeProblems(props) {
  const { element, id } = props;
  const { lang } = useEoms();
  const values = spiffProperties(getBusinessObject(element));

  // the problems between fields (a field's own error shows at the field)
  const problems = timeLimitProblems(values, lang)
    .filter(p => p.message !== validateTimeField(p.property, (values[p.property] || '').trim(), lang));
  if (!problems.length) {
    return null;
  }
  return jsx('div', {
    class: 'bio-properties-panel-entry eoms-time-problems',
    'data-entry-id': id,
    children: problems.map(p => jsx('div', { class: 'bio-properties-panel-error', children: p.message }))
  });
}

function taskGroup(element, labels, lang) {
  const validate = name => value => validateTimeField(name, (value || '').trim(), lang);
  const variable = value => (value && !IDENTIFIER.test(value.trim()) ? `${value}：${labels.badVariable}` : null);
  const entries = [
    { id: 'eoms-formKey', component: FormKeySelect, isEdited: isSelectEntryEdited },
    { id: 'eoms-timeLimit', component: PropertyText, isEdited: isTextFieldEntryEdited, name: 'timeLimit',
      label: labels.timeLimit, description: labels.timeLimitHelp, validate: validate('timeLimit') },
    { id: 'eoms-warnBefore', component: PropertyText, isEdited: isTextFieldEntryEdited, name: 'warnBefore',
      label: labels.warnBefore, description: labels.warnBeforeHelp, validate: validate('warnBefore') },
    { id: 'eoms-warnPercent', component: PropertyText, isEdited: isTextFieldEntryEdited, name: 'warnPercent',
      label: labels.warnPercent, description: labels.warnPercentHelp, validate: validate('warnPercent') },
    { id: 'eoms-time-problems', component: TimeProblems },
    { id: 'eoms-calendar', component: CalendarSelect, isEdited: isSelectEntryEdited },
    { id: 'eoms-allow', component: AllowHeading },
    ...ACTIONS.map(action => ({
      id: `eoms-allow-${action}`, component: AllowCheckbox, action, isEdited: isCheckboxEntryEdited
    })),
    { id: 'eoms-postVar', component: PropertyText, isEdited: isTextFieldEntryEdited, name: 'postVar',
      label: labels.postVar, description: labels.postVarHelp, validate: variable },
    { id: 'eoms-orgUnitVar', component: PropertyText, isEdited: isTextFieldEntryEdited, name: 'orgUnitVar',
      label: labels.orgUnitVar, description: labels.orgUnitVarHelp, validate: variable }
  ];
  return { id: 'eoms-task', label: labels.taskGroup, component: Group, shouldOpen: true, entries };
}


// entries: lanes ////////////////////////////////////////////////////////////////////////////////////////////

function normalizePosts(posts) {
  return (posts || []).map(p => (typeof p === 'string' ? { code: p, name: p } : p));
}

function LanePostSelect(props) {
  const { element, id } = props;
  const { config, labels } = useEoms();
  const modeling = useService('modeling');
  const posts = normalizePosts(config.posts);

  const laneName = () => (getBusinessObject(element).name || '').trim();
  const getValue = () => {
    const name = laneName();
    if (!name) {
      return '';
    }
    const post = posts.find(p => p.code === name || p.name === name);
    return post ? post.code : `?${name}`;
  };
  const getOptions = () => {
    const options = [ { value: '', label: labels.postNone },
      ...posts.map(p => ({ value: p.code, label: `${p.name} (${p.code})` })) ];
    const value = getValue();
    if (value.startsWith('?')) {
      options.push({ value, label: labels.postUnknown(value.slice(1)) });
    }
    return options;
  };
  const setValue = code => {
    if (!code || code.startsWith('?')) {
      return;
    }
    const post = posts.find(p => p.code === code);
    if (!post) {
      return;
    }
    const current = laneName();
    const usesNames = posts.some(p => p.name === current && p.name !== p.code);
    modeling.updateProperties(element, { name: usesNames ? post.name : post.code });
  };

  return SelectEntry({
    element, id, label: labels.post, description: labels.postHelp, getValue, getOptions, setValue
  });
}

function laneGroup(element, labels) {
  return {
    id: 'eoms-lane', label: labels.laneGroup, component: Group, shouldOpen: true,
    entries: [ { id: 'eoms-post', component: LanePostSelect, isEdited: isSelectEntryEdited } ]
  };
}


// entries: service tasks ////////////////////////////////////////////////////////////////////////////////////

function HandlerSelect(props) {
  const { element, id } = props;
  const { config, labels } = useEoms();
  const writer = useWriter();
  const handlers = normalizeHandlers(config.handlers);

  const getValue = () => {
    const operator = operatorOf(element);
    return (operator && operator.get('id')) || '';
  };
  const getOptions = () => {
    const current = getValue();
    const options = [ { value: '', label: labels.none }, ...handlers.map(h => ({ value: h.name, label: h.name })) ];
    if (current && !handlers.some(h => h.name === current)) {
      options.push({ value: current, label: current + labels.unknownSuffix });
    }
    return options;
  };
  const handler = handlers.find(h => h.name === getValue());

  return SelectEntry({
    element,
    id,
    label: labels.handler,
    description: handler ? handler.doc : undefined,
    getValue,
    getOptions,
    setValue: value => setOperatorAttr(element, 'id', value || '', writer)
  });
}

function ResultVariable(props) {
  const { element, id } = props;
  const { labels } = useEoms();
  const writer = useWriter();
  const debounce = useService('debounceInput');

  return TextFieldEntry({
    element,
    id,
    label: labels.resultVariable,
    description: labels.resultVariableHelp,
    debounce,
    validate: value => (value && !IDENTIFIER.test(value.trim()) ? `${value}：${labels.badVariable}` : null),
    getValue: () => {
      const operator = operatorOf(element);
      return (operator && operator.get('resultVariable')) || '';
    },
    setValue: value => setOperatorAttr(element, 'resultVariable', (value || '').trim(), writer)
  });
}

function ParameterText(props) {
  const { element, id, param, label, description } = props;
  const writer = useWriter();
  const debounce = useService('debounceInput');

  return TextFieldEntry({
    element,
    id,
    label,
    description,
    debounce,
    getValue: () => {
      const found = parametersOf(operatorOf(element)).find(p => (p.id || p.name) === param);
      return (found && found.value) || '';
    },
    setValue: value => setParameter(element, param, (value || '').trim() ? value : '', writer)
  });
}

/**
 * Adds a parameter the handler does not declare (e.g. an SMS template variable): type its name, then Enter or
 * leave the field; the parameter's value field appears (and the lint marks it until it has a value).
 */
function NewParameter(props) {
  const { element, id, existing } = props;
  const { labels } = useEoms();
  const writer = useWriter();
  const [ error, setError ] = useState(null);
  const inputId = `bio-properties-panel-${id}`;

  const commit = event => {
    const input = event.target;
    const name = (input.value || '').trim();
    if (!name) {
      setError(null);
      return;
    }
    if (!IDENTIFIER.test(name)) {
      setError(`${name}：${labels.badVariable}`);
      return;
    }
    if (existing.includes(name)) {
      setError(labels.paramExists(name));
      return;
    }
    setError(null);
    input.value = '';
    setParameter(element, name, '', writer, true);
  };

  return jsxs('div', {
    class: 'bio-properties-panel-entry' + (error ? ' has-error' : ''),
    'data-entry-id': id,
    children: [
      jsx('label', { for: inputId, class: 'bio-properties-panel-label', children: labels.newParam }),
      jsx('input', {
        id: inputId, name: id, type: 'text', class: 'bio-properties-panel-input', spellCheck: false,
        autoComplete: 'off', onBlur: commit,
        onKeyDown: event => {
          if (event.key === 'Enter') {
            event.preventDefault();
            commit(event);
          }
        }
      }),
      error ? jsx('div', { class: 'bio-properties-panel-error', children: error }) : null,
      jsx('div', { class: 'bio-properties-panel-description', children: labels.newParamHelp })
    ]
  });
}

function serviceGroup(element, labels, config) {
  const handlers = normalizeHandlers(config.handlers);
  const operator = operatorOf(element);
  const handler = operator && handlers.find(h => h.name === operator.get('id'));
  const declared = handler ? handler.params : [];
  const present = parametersOf(operator).map(p => p.id || p.name).filter(Boolean);
  const extra = present.filter(name => !declared.some(p => p.name === name));

  const params = [
    ...declared.map(p => ({ name: p.name, suffix: p.required ? labels.paramRequired : '' })),
    ...extra.map(name => ({ name, suffix: labels.paramUndeclared }))
  ];

  const entries = [
    { id: 'eoms-handler', component: HandlerSelect, isEdited: isSelectEntryEdited },
    { id: 'eoms-resultVariable', component: ResultVariable, isEdited: isTextFieldEntryEdited },
    ...params.map((p, index) => ({
      id: `eoms-param-${safeId(p.name)}`,
      component: ParameterText,
      isEdited: isTextFieldEntryEdited,
      param: p.name,
      label: labels.param(p.name) + p.suffix,
      description: index === 0 ? labels.paramHelp : undefined
    })),
    { id: 'eoms-param-new', component: NewParameter, existing: params.map(p => p.name) }
  ];
  return { id: 'eoms-service', label: labels.serviceGroup, component: Group, shouldOpen: true, entries };
}


// timers ////////////////////////////////////////////////////////////////////////////////////////////////////

function timerDefinition(element) {
  const bo = getBusinessObject(element);
  return ((bo && bo.get('eventDefinitions')) || []).find(d => is(d, 'bpmn:TimerEventDefinition')) || null;
}

function TimerPreview(props) {
  const { element, id } = props;
  const { lang, labels } = useEoms();
  const definition = timerDefinition(element);
  if (!definition) {
    return null;
  }
  const kind = [ 'timeDuration', 'timeDate', 'timeCycle' ].find(k => definition.get(k));
  const body = kind ? definition.get(kind).get('body') : '';
  const preview = timerPreview(kind, body, lang);
  if (!preview) {
    return null;
  }
  const text = preview.hint || preview.text;
  return jsxs('div', {
    class: 'bio-properties-panel-entry eoms-timer-preview' + (preview.hint ? ' eoms-timer-hint' : ''),
    'data-entry-id': id,
    children: [
      jsx('div', { class: 'bio-properties-panel-label', children: labels.timerPreview }),
      jsx('div', { class: preview.hint ? 'bio-properties-panel-error eoms-timer-text' : 'eoms-timer-text',
        children: text })
    ]
  });
}


// the provider //////////////////////////////////////////////////////////////////////////////////////////////

export default class EomsPropertiesProvider {
  constructor(propertiesPanel, injector) {
    this._injector = injector;
    propertiesPanel.registerProvider(LOW_PRIORITY, this);
  }

  getGroups(element) {
    return groups => {
      const config = this._injector.get('config.eoms', false) || {};
      const lang = config.lang === 'en' ? 'en' : 'zh';
      const labels = LABELS[lang];

      if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
        groups.splice(1, 0, taskGroup(element, labels, lang));
      }
      if (is(element, 'bpmn:StartEvent')) {
        groups.splice(1, 0, {
          id: 'eoms-start', label: labels.startGroup, component: Group, shouldOpen: true,
          entries: [ { id: 'eoms-formKey', component: FormKeySelect, isEdited: isSelectEntryEdited } ]
        });
      }
      if (is(element, 'bpmn:Lane')) {
        groups.splice(1, 0, laneGroup(element, labels));
      }
      if (is(element, 'bpmn:ServiceTask')) {
        groups.splice(1, 0, serviceGroup(element, labels, config));
      }
      if (timerDefinition(element)) {
        const timer = groups.find(g => g.id === 'timer');
        if (timer) {
          timer.entries.push({ id: 'eoms-timer-preview', component: TimerPreview });
        }
      }
      return groups;
    };
  }
}

EomsPropertiesProvider.$inject = [ 'propertiesPanel', 'injector' ];

export const EomsPropertiesModule = {
  __init__: [ 'eomsPropertiesProvider' ],
  eomsPropertiesProvider: [ 'type', EomsPropertiesProvider ]
};
