/**
 * The EOMS process designer: a bpmn-js Modeler with the properties panel, the EOMS properties provider and
 * bpmnlint, mounted into the page the server renders:
 *
 *   <div id="designer" data-config='{...}'>
 *     <div id="designer-toolbar"></div> <div id="designer-canvas"></div>
 *     <div id="designer-properties"></div> <div id="designer-issues"></div>
 *   </div>
 *
 * Config keys: xmlUrl, saveUrl, validateUrl, deployUrl, downloadUrl, csrfToken, lang, readOnly, posts, forms,
 * handlers (params as names, the required ones in `required`, or as { name, required }), calendars, actions;
 * optional: formEditorUrl (with __FORM__ for the form key: a link under the form select).
 *
 * Exposes window.eomsDesigner = { modeler, save(), validate(), deploy(), issues(), lintIssues(), showIssues(),
 * open(xml), isDirty(), importWarnings, droppedElements, ready } and sets body[data-designer-ready="1"] after
 * the first import (body[data-designer-error] with the message when it failed).
 *
 * Server issues: marker class 'eoms-issue' on the element, an overlay of type 'eoms-issue', and the list in
 * #designer-issues (li.eoms-issue-item[data-element-id]); the state line is .eoms-state.
 */

import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import lintModule from 'bpmn-js-bpmnlint';

import spiffworkflowModdle from './spiffworkflow-moddle.json';
import { EomsPropertiesModule } from './eoms-properties.js';
import { createLintConfig } from './lint-rules.js';

const AUTOSAVE_MS = 2000;

const UI = {
  zh: {
    validate: '校验',
    save: '保存草稿',
    deploy: '部署',
    download: '下载 .bpmn',
    loading: '正在打开…',
    ready: '已打开',
    readOnly: '只读',
    dirty: '有未保存的修改',
    saving: '正在保存…',
    saved: time => `已保存 ${time}`,
    saveFailed: message => `保存失败：${message}`,
    validating: '正在校验…',
    valid: '校验通过',
    invalid: n => `校验发现 ${n} 个问题`,
    validateFailed: message => `校验失败：${message}`,
    deploying: '正在部署…',
    deployed: results => `已部署：${results.map(r => `${r.key} 版本 ${r.version}`).join('；')}`,
    deployRefused: n => `部署被拒绝：${n} 个问题`,
    deployFailed: message => `部署失败：${message}`,
    importFailed: message => `无法打开流程：${message}`,
    lostOnSave: names => `注意：文件中有设计器不认识的 spiffworkflow 元素（${names.join('、')}），保存后会丢失`,
    issuesTitle: '问题',
    noIssues: '没有问题',
    line: n => `第 ${n} 行`,
    noElement: '（整个文件）',
    http: status => `HTTP ${status}`,
    problems: n => `${n} 个问题（见下方列表）`
  },
  en: {
    validate: 'Validate',
    save: 'Save draft',
    deploy: 'Deploy',
    download: 'Download .bpmn',
    loading: 'Opening…',
    ready: 'Opened',
    readOnly: 'Read only',
    dirty: 'Unsaved changes',
    saving: 'Saving…',
    saved: time => `Saved ${time}`,
    saveFailed: message => `Saving failed: ${message}`,
    validating: 'Validating…',
    valid: 'No problems found',
    invalid: n => `${n} problem(s) found`,
    validateFailed: message => `Validation failed: ${message}`,
    deploying: 'Deploying…',
    deployed: results => `Deployed: ${results.map(r => `${r.key} version ${r.version}`).join('; ')}`,
    deployRefused: n => `Deployment refused: ${n} problem(s)`,
    deployFailed: message => `Deployment failed: ${message}`,
    importFailed: message => `Cannot open the process: ${message}`,
    lostOnSave: names => `Note: the file has spiffworkflow elements the designer does not know (${names.join(', ')}); `
      + 'saving drops them',
    issuesTitle: 'Problems',
    noIssues: 'No problems',
    line: n => `line ${n}`,
    noElement: '(the whole file)',
    http: status => `HTTP ${status}`,
    problems: n => `${n} problem(s), listed below`
  }
};

/* Chinese texts for bpmn-js, the properties panel and bpmn-js-bpmnlint (their own strings are English). */
const ZH = {
  // palette, context pad, popup menu
  'Activate hand tool': '抓手工具',
  'Activate lasso tool': '套索工具',
  'Activate create/remove space tool': '创建/删除空间',
  'Activate global connect tool': '全局连线工具',
  'Create start event': '创建开始事件',
  'Create intermediate/boundary event': '创建中间/边界事件',
  'Create end event': '创建结束事件',
  'Create gateway': '创建网关',
  'Create task': '创建任务',
  'Create data object reference': '创建数据对象引用',
  'Create data store reference': '创建数据存储引用',
  'Create expanded sub-process': '创建展开的子流程',
  'Create pool/participant': '创建池/参与者',
  'Create group': '创建分组',
  'Append end event': '追加结束事件',
  'Append gateway': '追加网关',
  'Append task': '追加任务',
  'Append intermediate/boundary event': '追加中间/边界事件',
  'Append timer intermediate catch event': '追加定时中间事件',
  'Append message intermediate catch event': '追加消息中间事件',
  'Append receive task': '追加接收任务',
  'Add lane above': '在上方添加泳道',
  'Add lane below': '在下方添加泳道',
  'Divide into two lanes': '分成两条泳道',
  'Divide into three lanes': '分成三条泳道',
  'Add text annotation': '添加文本注释',
  'Change element': '更改元素类型',
  'Connect to other element': '连接到其他元素',
  'Connect using association': '用关联连接',
  'Delete': '删除',
  'Search in diagram': '在图中搜索',
  'Toggle non-interrupting': '切换非中断',
  'Loop': '循环',
  'Parallel multi-instance': '并行多实例',
  'Sequential multi-instance': '串行多实例',
  'Collection': '集合',

  // properties panel
  'General': '常规',
  'Name': '名称',
  'ID': 'ID',
  'Documentation': '文档',
  'Element documentation': '元素文档',
  'Process documentation': '流程文档',
  'Executable': '可执行',
  'Version tag': '版本标签',
  'Timer': '定时器',
  'Type': '类型',
  'Value': '值',
  'Date': '日期',
  'Duration': '时长',
  'Cycle': '周期',
  '<none>': '（无）',
  '<empty>': '（空）',
  'Message': '消息',
  'Signal': '信号',
  'Error': '错误',
  'Escalation': '升级',
  'Link': '链接',
  'Condition': '条件',
  'Multi-instance': '多实例',
  'Loop cardinality': '循环次数',
  'Completion condition': '完成条件',
  'Compensation': '补偿',
  'Toggle section': '展开/收起',
  'Section contains edits': '此部分已编辑',
  'Section contains an error': '此部分有错误',
  'Select an element to edit its properties.': '选择一个元素以编辑其属性。',
  'Multiple elements are selected. Select a single one to edit its properties.': '选中了多个元素，请只选一个以编辑其属性。',
  // element types (the panel's header)
  'Process': '流程',
  'Collaboration': '协作',
  'Participant': '参与者（池）',
  'Lane': '泳道',
  'Task': '任务',
  'User Task': '用户任务',
  'Manual Task': '手工任务',
  'Service Task': '服务任务',
  'Script Task': '脚本任务',
  'Send Task': '发送任务',
  'Receive Task': '接收任务',
  'Business Rule Task': '业务规则任务',
  'Call Activity': '调用活动',
  'Sub Process': '子流程',
  'Sequence Flow': '顺序流',
  'Message Flow': '消息流',
  'Exclusive Gateway': '排他网关',
  'Parallel Gateway': '并行网关',
  'Inclusive Gateway': '包容网关',
  'Event Based Gateway': '事件网关',
  'Start Event': '开始事件',
  'End Event': '结束事件',
  'Intermediate Throw Event': '中间抛出事件',
  'Intermediate Catch Event': '中间捕获事件',
  'Boundary Event': '边界事件',
  'Timer Start Event': '定时开始事件',
  'Timer Intermediate Catch Event': '定时中间事件',
  'Timer Boundary Event': '定时边界事件',
  'Timer Boundary Event (Non Interrupting)': '定时边界事件（非中断）',
  'Message Start Event': '消息开始事件',
  'Message Intermediate Catch Event': '消息中间捕获事件',
  'Message End Event': '消息结束事件',
  'Error End Event': '错误结束事件',
  'Error Boundary Event': '错误边界事件',
  'Terminate End Event': '终止结束事件',
  'Data Object Reference': '数据对象引用',
  'Data Store Reference': '数据存储引用',
  'Text Annotation': '文本注释',
  'Group': '分组',
  'Script': '脚本',
  'Format': '格式',

  // bpmn-js-bpmnlint and bpmnlint messages
  'Toggle linting overlays': '显示/隐藏检查结果',
  '{errors} Errors, {warnings} Warnings': '{errors} 个错误，{warnings} 个警告',
  'No Issues': '没有问题',
  'Issues for child elements': '子元素的问题',
  'Element is missing label/name': '元素缺少名称',
  'Element is missing bpmndi': '元素没有图形（缺少 BPMNDI）',
  'Element is not connected': '元素没有连线',
  'Element is an implicit end': '元素是隐式结束（没有输出流）',
  'Element is an implicit start': '元素是隐式开始（没有输入流）',
  'Flow splits implicitly': '流程隐式分支，请使用网关',
  'Gateway forks and joins': '网关同时分支和合并',
  'Gateway is superfluous. It only has one source and target.': '多余的网关：只有一个来源和一个目标',
  'Incoming flows do not join': '多条输入流未经网关合并',
  'Sequence flow is missing condition': '顺序流缺少条件',
  'Sequence flow has superfluous label': '顺序流的标签是多余的',
  'SequenceFlow is a duplicate': '重复的顺序流',
  'Duplicate outgoing sequence flows': '重复的输出顺序流',
  'Duplicate incoming sequence flows': '重复的输入顺序流',
  'Termination is superfluous.': '多余的终止结束事件',
  'Event has multiple event definitions': '事件有多个事件定义',
  'Start event must be blank': '开始事件必须是空白开始事件',
  'Start event is missing event definition': '开始事件缺少事件定义',
  'Process is missing start event': '流程缺少开始事件',
  'Process is missing end event': '流程缺少结束事件',
  'Sub process is missing start event': '子流程缺少开始事件',
  'Sub process is missing end event': '子流程缺少结束事件',
  'Process has multiple blank start events': '流程有多个空白开始事件',
  'Sub process has multiple blank start events': '子流程有多个空白开始事件',
  'Element is missing name': '元素缺少名称',
  'Element is unused': '元素未被使用',
  'Element name is not unique': '元素名称不唯一',
  'Element overlaps with other element': '元素与其他元素重叠',
  'Element is outside of parent boundary': '元素超出了父元素的边界',
  'Element type <bpmn:ComplexGateway> is discouraged': '不建议使用复杂网关',
  'Link event is missing link name': '链接事件缺少链接名称'
};

function translateModule(lang) {
  const dictionary = lang === 'en' ? {} : ZH;

  function translate(template, replacements) {
    const text = dictionary[template] || template;
    return text.replace(/{([^}]+)}/g, (match, key) => (
      replacements && replacements[key] !== undefined ? String(replacements[key]) : match
    ));
  }
  return { translate: [ 'value', translate ] };
}

function readConfig(root) {
  const defaults = {
    xmlUrl: '', saveUrl: '', validateUrl: '', deployUrl: '', downloadUrl: '', csrfToken: '',
    lang: 'zh', readOnly: false, posts: [], forms: [], handlers: [], calendars: [], actions: []
  };
  let parsed = {};
  try {
    parsed = JSON.parse(root.dataset.config || '{}');
  } catch (err) {
    throw new Error('data-config is not valid JSON: ' + err.message);
  }
  return { ...defaults, ...parsed };
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([ key, value ]) => {
    if (value === undefined || value === null || value === false) {
      return;
    }
    if (key === 'text') {
      node.textContent = value;
    } else if (key === 'class') {
      node.className = value;
    } else {
      node.setAttribute(key, value === true ? '' : value);
    }
  });
  children.forEach(child => child && node.appendChild(child));
  return node;
}

function clockTime(iso) {
  const date = iso ? new Date(iso) : new Date();
  const valid = !isNaN(date.getTime()) ? date : new Date();
  try {
    return new Intl.DateTimeFormat('zh-CN', {
      timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false
    }).format(valid);
  } catch (err) {
    return valid.toTimeString().slice(0, 8);
  }
}

/**
 * SpiffWorkflow reads bpmn:loopDataInputRef / loopDataOutputRef as variable names, which bpmn-moddle sees as
 * unresolved references and would drop on export: keep each as a placeholder carrying the name as its id.
 */
function keepVariableReferences(moddle, warnings) {
  (warnings || []).forEach(warning => {
    const property = warning.property || '';
    const name = property.split(':').pop();
    if (!/^unresolved reference/.test(warning.message || '') || !warning.element
      || ![ 'loopDataInputRef', 'loopDataOutputRef' ].includes(name)) {
      return;
    }
    if (!warning.element.get(name)) {
      warning.element.set(name, moddle.create('bpmn:Property', { id: warning.value }));
    }
  });
}

/** The spiffworkflow elements an import dropped (the descriptor does not know them). */
function droppedSpiffElements(warnings) {
  const names = new Set();
  (warnings || []).forEach(warning => {
    const match = /unparsable content <(spiffworkflow:[^>\s]+)>/.exec(warning.message || '')
      || /unknown type <(spiffworkflow:[^>\s]+)>/.exec(warning.message || '');
    if (match) {
      names.add(match[1]);
    }
  });
  return [ ...names ];
}

/**
 * Canvas and properties side by side: in the element that holds both (a wrapper the page may have, such as
 * .designer-main), or a wrapper made here when they are direct children of #designer.
 */
function arrangeMain(canvasEl, propertiesEl, root) {
  if (!canvasEl || !propertiesEl) {
    return;
  }
  let main = canvasEl.parentNode === propertiesEl.parentNode ? canvasEl.parentNode : null;
  if (!main || main === root) {
    main = el('div', {});
    root.insertBefore(main, canvasEl);
    main.appendChild(canvasEl);
    main.appendChild(propertiesEl);
  }
  main.classList.add('eoms-designer-main');
}

/** The XML text of a response: decoded by the encoding its XML declaration names (UTF-8 by default). */
function decodeXml(buffer) {
  const head = new TextDecoder('latin1').decode(new Uint8Array(buffer, 0, Math.min(buffer.byteLength, 200)));
  const match = /^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head);
  let decoder;
  try {
    decoder = new TextDecoder(match ? match[1] : 'utf-8');
  } catch (err) {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(buffer);
}

export function mountDesigner(root) {
  const config = readConfig(root);
  const lang = config.lang === 'en' ? 'en' : 'zh';
  const t = UI[lang];
  const readOnly = !!config.readOnly;

  const toolbar = root.querySelector('#designer-toolbar');
  const canvasEl = root.querySelector('#designer-canvas');
  const propertiesEl = root.querySelector('#designer-properties');
  const issuesEl = root.querySelector('#designer-issues');
  root.classList.add('eoms-designer');
  arrangeMain(canvasEl, propertiesEl, root);
  if (readOnly) {
    root.classList.add('eoms-designer-readonly');
  }

  // toolbar
  const buttons = {
    validate: el('button', { type: 'button', class: 'eoms-btn', 'data-action': 'validate', text: t.validate }),
    save: readOnly ? null
      : el('button', { type: 'button', class: 'eoms-btn', 'data-action': 'save', text: t.save }),
    deploy: readOnly ? null
      : el('button', { type: 'button', class: 'eoms-btn eoms-btn-primary', 'data-action': 'deploy', text: t.deploy }),
    download: el('a', { class: 'eoms-btn', 'data-action': 'download', href: config.downloadUrl || '#', text: t.download })
  };
  const stateEl = el('span', { class: 'eoms-state', role: 'status', 'aria-live': 'polite' });
  if (toolbar) {
    toolbar.textContent = '';
    toolbar.classList.add('eoms-toolbar');
    [ buttons.validate, buttons.save, buttons.deploy, buttons.download, stateEl ].forEach(b => b && toolbar.appendChild(b));
  }

  function setState(text, kind = 'info') {
    stateEl.textContent = text;
    stateEl.dataset.kind = kind;
  }

  const modeler = new BpmnModeler({
    container: canvasEl,
    moddleExtensions: { spiffworkflow: spiffworkflowModdle },
    propertiesPanel: {
      parent: propertiesEl,
      layout: { groups: { general: { open: true }, timer: { open: true } } }
    },
    linting: {
      active: true,
      bpmnlint: createLintConfig(config)
    },
    eoms: config,
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      EomsPropertiesModule,
      lintModule,
      translateModule(lang)
    ]
  });

  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const elementRegistry = modeler.get('elementRegistry');
  const eventBus = modeler.get('eventBus');
  const selection = modeler.get('selection');

  let serverIssues = [];
  let markedIds = [];
  let lintReports = [];
  let dirty = false;
  let importing = false;
  let saveTimer = null;
  let saving = null;
  let saveAgain = false;
  let changeCount = 0;

  // requests ////////////////////////////////////////////////////////////////////////////////////////////////

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        'Accept': 'application/json',
        'X-CSRFToken': config.csrfToken || ''
      },
      body: JSON.stringify(body)
    });
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    return { status: response.status, ok: response.ok, data };
  }

  function failure(result) {
    const data = result.data || {};
    return data.message || data.error || (data.detail && String(data.detail)) || t.http(result.status);
  }

  async function currentXml() {
    const { xml } = await modeler.saveXML({ format: true });
    return xml;
  }

  // issues from the server //////////////////////////////////////////////////////////////////////////////////

  function clearIssueMarkers() {
    markedIds.forEach(id => {
      if (elementRegistry.get(id)) {
        canvas.removeMarker(id, 'eoms-issue');
      }
    });
    markedIds = [];
    overlays.remove({ type: 'eoms-issue' });
  }

  function focusElement(id) {
    const element = elementRegistry.get(id);
    if (!element) {
      return false;
    }
    canvas.scrollToElement(element);
    selection.select(element);
    return true;
  }

  function issueText(issue) {
    const parts = [];
    if (issue.rule_text && issue.rule_text !== issue.message) {
      parts.push(issue.rule_text);
    }
    if (issue.message) {
      parts.push(issue.message);
    }
    return parts.join('：') || issue.rule || '';
  }

  function renderIssues() {
    if (!issuesEl) {
      return;
    }
    issuesEl.textContent = '';
    issuesEl.classList.add('eoms-issues');
    if (!serverIssues.length) {
      issuesEl.hidden = true;
      return;
    }
    issuesEl.hidden = false;
    issuesEl.appendChild(el('div', { class: 'eoms-issues-title', text: `${t.issuesTitle}（${serverIssues.length}）` }));
    const list = el('ul', { class: 'eoms-issue-list' });
    serverIssues.forEach(issue => {
      const id = issue.element_id || '';
      const onCanvas = !!(id && elementRegistry.get(id));
      const element = onCanvas ? elementRegistry.get(id) : null;
      const name = element && element.businessObject && element.businessObject.name;
      const item = el('li', {
        class: 'eoms-issue-item' + (onCanvas ? ' eoms-issue-linked' : ''),
        'data-element-id': id || undefined,
        'data-rule': issue.rule || undefined,
        tabindex: onCanvas ? '0' : undefined
      }, [
        el('span', { class: 'eoms-issue-where', text: id ? (name ? `${name} (${id})` : id) : t.noElement }),
        el('span', { class: 'eoms-issue-message', text: issueText(issue) }),
        issue.line ? el('span', { class: 'eoms-issue-line', text: t.line(issue.line) }) : null,
        issue.rule ? el('span', { class: 'eoms-issue-rule', text: issue.rule }) : null
      ]);
      if (onCanvas) {
        item.addEventListener('click', () => focusElement(id));
        item.addEventListener('keydown', event => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            focusElement(id);
          }
        });
      }
      list.appendChild(item);
    });
    issuesEl.appendChild(list);
  }

  function showIssues(issues) {
    clearIssueMarkers();
    serverIssues = Array.isArray(issues) ? issues : [];
    const byElement = {};
    serverIssues.forEach(issue => {
      const id = issue.element_id;
      if (id && elementRegistry.get(id)) {
        (byElement[id] = byElement[id] || []).push(issue);
      }
    });
    Object.entries(byElement).forEach(([ id, list ]) => {
      canvas.addMarker(id, 'eoms-issue');
      markedIds.push(id);
      const box = el('div', { class: 'eoms-issue-overlay', title: list.map(issueText).join('\n') },
        list.map(issue => el('div', { class: 'eoms-issue-overlay-line', text: issueText(issue) })));
      box.addEventListener('click', () => focusElement(id));
      overlays.add(id, 'eoms-issue', { position: { top: -24, left: 0 }, html: box, scale: { min: 0.85, max: 1.25 } });
    });
    renderIssues();
  }

  // saving //////////////////////////////////////////////////////////////////////////////////////////////////

  async function save() {
    if (readOnly || !config.saveUrl) {
      return null;
    }
    clearTimeout(saveTimer);
    saveTimer = null;
    if (saving) {
      saveAgain = true;
      return saving;
    }
    setState(t.saving, 'busy');
    saving = (async () => {
      try {
        const changesBefore = changeCount;
        const result = await postJSON(config.saveUrl, { xml: await currentXml() });
        if (!result.ok) {
          const refused = result.data && Array.isArray(result.data.issues) ? result.data.issues : [];
          if (refused.length) {
            showIssues(refused); // e.g. XML the server does not store
            throw new Error(t.problems(refused.length));
          }
          throw new Error(failure(result));
        }
        if (changeCount === changesBefore) {
          dirty = false;
        }
        setState(t.saved(clockTime(result.data && result.data.saved_at)), 'ok');
        return result.data;
      } catch (err) {
        setState(t.saveFailed(err.message), 'error');
        throw err;
      } finally {
        saving = null;
        if (saveAgain) {
          saveAgain = false;
          scheduleSave();
        }
      }
    })();
    return saving;
  }

  function scheduleSave() {
    if (readOnly || !config.saveUrl) {
      return;
    }
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => {
      save().catch(() => { /* shown in the state line */ });
    }, AUTOSAVE_MS);
  }

  eventBus.on('commandStack.changed', event => {
    if (importing || (event && event.trigger === 'clear')) {
      return;
    }
    changeCount++;
    dirty = true;
    if (!readOnly) {
      setState(t.dirty, 'info');
      scheduleSave();
    }
  });

  window.addEventListener('beforeunload', event => {
    if (dirty && !readOnly) {
      event.preventDefault();
      event.returnValue = '';
    }
  });

  // validate and deploy /////////////////////////////////////////////////////////////////////////////////////

  async function validate() {
    setState(t.validating, 'busy');
    try {
      const result = await postJSON(config.validateUrl, { xml: await currentXml() });
      if (!result.data || !Array.isArray(result.data.issues) || (!result.ok && result.status !== 422)) {
        throw new Error(failure(result));
      }
      const issues = result.data.issues || [];
      showIssues(issues);
      setState(result.data.ok && !issues.length ? t.valid : t.invalid(issues.length),
        result.data.ok && !issues.length ? 'ok' : 'error');
      return result.data;
    } catch (err) {
      setState(t.validateFailed(err.message), 'error');
      throw err;
    }
  }

  async function deploy() {
    if (readOnly) {
      return null;
    }
    setState(t.deploying, 'busy');
    try {
      const result = await postJSON(config.deployUrl, { xml: await currentXml() });
      const data = result.data || {};
      if (result.ok && data.ok) {
        showIssues([]);
        setState(t.deployed(data.results || []), 'ok');
        return data;
      }
      if (data.issues) {
        showIssues(data.issues);
        setState(t.deployRefused(data.issues.length), 'error');
        return data;
      }
      throw new Error(failure(result));
    } catch (err) {
      setState(t.deployFailed(err.message), 'error');
      throw err;
    }
  }

  const quiet = promise => promise.catch(() => { /* shown in the state line */ });
  buttons.validate.addEventListener('click', () => quiet(validate()));
  buttons.save && buttons.save.addEventListener('click', () => quiet(save()));
  buttons.deploy && buttons.deploy.addEventListener('click', () => quiet(deploy()));
  buttons.download.addEventListener('click', event => {
    if (dirty && !readOnly && config.saveUrl && config.downloadUrl) {
      event.preventDefault(); // download what is on the canvas: save the draft first
      save().then(() => { window.location.href = config.downloadUrl; }, () => {});
    }
  });

  // lint results (for tests and the issue count) //////////////////////////////////////////////////////////

  eventBus.on('linting.completed', event => {
    const reports = [];
    Object.values(event.issues || {}).forEach(list => list.forEach(report => {
      reports.push({
        element_id: report.actualElementId || report.id,
        rule: report.rule,
        category: report.category,
        message: report.message
      });
    }));
    lintReports = reports;
    root.dataset.lintCount = String(reports.length);
  });

  /** Fit the diagram into the canvas, clear of the palette on the left, never zoomed in beyond 100%. */
  function fitDiagram() {
    canvas.zoom('fit-viewport', 'auto');
    const { inner, outer } = canvas.viewbox();
    if (!inner || !inner.width || !inner.height || !outer.width || !outer.height) {
      return;
    }
    const left = 72, pad = 24;
    const scale = Math.min((outer.width - left - pad) / inner.width, (outer.height - 2 * pad) / inner.height, 1);
    if (!(scale > 0)) {
      return;
    }
    const width = outer.width / scale, height = outer.height / scale;
    canvas.viewbox({
      x: inner.x - left / scale,
      y: inner.y - (height - inner.height) / 2,
      width,
      height
    });
  }

  // import //////////////////////////////////////////////////////////////////////////////////////////////////

  async function open(xml) {
    importing = true;
    try {
      const { warnings } = await modeler.importXML(xml);
      keepVariableReferences(modeler.get('moddle'), warnings);
      fitDiagram();
      api.importWarnings = (warnings || []).map(w => w.message);
      const dropped = droppedSpiffElements(warnings);
      api.droppedElements = dropped;
      dirty = false;
      showIssues([]);
      if (dropped.length) {
        setState(t.lostOnSave(dropped), 'error');
      } else {
        setState(readOnly ? t.readOnly : t.ready, 'info');
      }
      return warnings;
    } finally {
      importing = false;
    }
  }

  const api = {
    modeler,
    config,
    save,
    validate,
    deploy,
    open,
    issues: () => serverIssues.slice(),
    showIssues,
    lintIssues: () => lintReports.slice(),
    isDirty: () => dirty,
    importWarnings: [],
    droppedElements: []
  };
  window.eomsDesigner = api;

  setState(t.loading, 'busy');

  const ready = (async () => {
    try {
      const response = await fetch(config.xmlUrl, { credentials: 'same-origin' });
      if (!response.ok) {
        throw new Error(t.http(response.status));
      }
      await open(decodeXml(await response.arrayBuffer()));
      document.body.dataset.designerReady = '1';
    } catch (err) {
      const message = (err && err.message) || String(err);
      document.body.dataset.designerError = message;
      setState(t.importFailed(message), 'error');
    }
  })();
  api.ready = ready;

  return api;
}

function start() {
  const root = document.getElementById('designer');
  if (!root) {
    return;
  }
  try {
    mountDesigner(root);
  } catch (err) {
    document.body.dataset.designerError = (err && err.message) || String(err);
    throw err;
  }
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
