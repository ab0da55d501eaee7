// 组织机构: drag a unit onto another to move it there; the move is previewed (what it affects) before it is made.
(function () {
  const tree = document.getElementById('org-tree');
  if (!tree) return;
  let dragged = null;
  tree.addEventListener('dragstart', (event) => {
    const node = event.target.closest('.org-node');
    if (!node) return;
    dragged = node;
    node.classList.add('dragging');
    event.dataTransfer.effectAllowed = 'move';
    event.dataTransfer.setData('text/plain', node.dataset.code);
  });
  tree.addEventListener('dragend', () => {
    if (dragged) dragged.classList.remove('dragging');
    tree.querySelectorAll('.drop-target').forEach((n) => n.classList.remove('drop-target'));
    dragged = null;
  });
  tree.addEventListener('dragover', (event) => {
    const node = event.target.closest('.org-node');
    if (!node || !dragged || node === dragged) return;
    event.preventDefault();
    tree.querySelectorAll('.drop-target').forEach((n) => n !== node && n.classList.remove('drop-target'));
    node.classList.add('drop-target');
  });
  tree.addEventListener('dragleave', (event) => {
    const node = event.target.closest('.org-node');
    if (node && !node.contains(event.relatedTarget)) node.classList.remove('drop-target');
  });
  tree.addEventListener('drop', (event) => {
    const node = event.target.closest('.org-node');
    if (!node || !dragged) return;
    event.preventDefault();
    const unit = event.dataTransfer.getData('text/plain') || dragged.dataset.code;
    if (unit === node.dataset.code) return;
    const url = new URL(tree.dataset.moveUrl, window.location.href);
    url.searchParams.set('unit', unit);
    url.searchParams.set('parent', node.dataset.code);
    window.location.assign(url.toString());
  });
}());
