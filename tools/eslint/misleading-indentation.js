// A local ESLint rule (plain JS: eslint.config.js loads it without a TypeScript step).
/**
 * misleading-indentation: a statement after a brace-less `if`/`else`/loop body that is indented deeper
 * than the `if` itself reads as guarded but always runs (the bug that once added every read stream to
 * the control-frame set). ESLint's `curly: multi-line` allows the one-line form, so this closes the gap
 * without imposing a formatter's full indentation style on the tree.
 */
/** @type {import('eslint').Rule.RuleModule} */
export const misleadingIndentation = {
  meta: {
    type: 'problem',
    docs: { description: 'a statement indented as if guarded by a brace-less if/else/loop body above it' },
    schema: [],
    messages: {
      misleading: "This statement is indented as if it belonged to the brace-less '{{kw}}' above, but it always runs: add braces or fix the indentation.",
    },
  },
  create(context) {
    function siblingsOf(node) {
      const p = node.parent;
      if (!p) return null;
      if (p.type === 'BlockStatement' || p.type === 'Program' || p.type === 'StaticBlock') return p.body;
      if (p.type === 'SwitchCase') return p.consequent;
      return null;
    }
    function check(node, body, kw) {
      if (!body || body.type === 'BlockStatement') return;
      const siblings = siblingsOf(node);
      if (!siblings) return;
      const next = siblings[siblings.indexOf(node) + 1];
      if (!next || next.loc.start.line === body.loc.end.line) return;
      if (next.loc.start.column > node.loc.start.column) context.report({ node: next, messageId: 'misleading', data: { kw } });
    }
    const loop = (kw) => (node) => check(node, node.body, kw);
    return {
      IfStatement(node) {
        if (node.parent && node.parent.type === 'IfStatement' && node.parent.alternate === node) return; // part of an else-if chain
        let last = node;
        while (last.alternate && last.alternate.type === 'IfStatement') last = last.alternate;
        check(node, last.alternate ?? last.consequent, last.alternate ? 'else' : 'if');
      },
      ForStatement: loop('for'),
      ForOfStatement: loop('for'),
      ForInStatement: loop('for'),
      WhileStatement: loop('while'),
    };
  },
};
