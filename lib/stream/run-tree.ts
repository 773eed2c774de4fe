/**
 * An ordered set of disjoint byte runs keyed by stream offset: an AVL tree, so that finding, inserting and
 * removing a run costs O(log n) whatever order a (possibly hostile) peer sends fragments in. A sorted array
 * with splice cost O(n) per insert, which a peer sending 1-byte frames at every other offset turned into
 * quadratic CPU (issue 11).
 */

/** The keyed part of a run: stream offset `off`, `len` bytes. */
export interface Keyed {
  off: number;
  len: number;
}

interface Node<T extends Keyed> {
  item: T;
  left: Node<T> | null;
  right: Node<T> | null;
  height: number;
}

function h<T extends Keyed>(n: Node<T> | null): number {
  return n === null ? 0 : n.height;
}

function fix<T extends Keyed>(n: Node<T>): void {
  const l = h(n.left);
  const r = h(n.right);
  n.height = (l > r ? l : r) + 1;
}

function rotateRight<T extends Keyed>(n: Node<T>): Node<T> {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  fix(n);
  fix(l);
  return l;
}

function rotateLeft<T extends Keyed>(n: Node<T>): Node<T> {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  fix(n);
  fix(r);
  return r;
}

function balance<T extends Keyed>(n: Node<T>): Node<T> {
  fix(n);
  const b = h(n.left) - h(n.right);
  if (b > 1) {
    if (h(n.left!.left) < h(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (b < -1) {
    if (h(n.right!.right) < h(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

export class RunTree<T extends Keyed> {
  private root: Node<T> | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The run with the lowest offset. */
  first(): T | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.left !== null) n = n.left;
    return n.item;
  }

  /** The run with the greatest offset <= off. */
  floor(off: number): T | undefined {
    let n = this.root;
    let best: T | undefined;
    while (n !== null) {
      if (n.item.off <= off) {
        best = n.item;
        n = n.right;
      } else n = n.left;
    }
    return best;
  }

  /** The run with the smallest offset > off. */
  higher(off: number): T | undefined {
    let n = this.root;
    let best: T | undefined;
    while (n !== null) {
      if (n.item.off > off) {
        best = n.item;
        n = n.left;
      } else n = n.right;
    }
    return best;
  }

  /** Adds a run; its offset must not be present (runs are disjoint). */
  insert(item: T): void {
    this.root = this.ins(this.root, item);
    this.count++;
  }

  /** Removes the run at exactly `off`, if any. */
  delete(off: number): void {
    this.root = this.del(this.root, off);
  }

  clear(): void {
    this.root = null;
    this.count = 0;
  }

  /** Runs in offset order (for tests and diagnostics; O(n)). */
  *[Symbol.iterator](): IterableIterator<T> {
    const stack: Node<T>[] = [];
    let n = this.root;
    while (n !== null || stack.length > 0) {
      while (n !== null) {
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop()!;
      yield top.item;
      n = top.right;
    }
  }

  /** Tree height (tests assert it stays logarithmic). */
  get height(): number {
    return h(this.root);
  }

  private ins(n: Node<T> | null, item: T): Node<T> {
    if (n === null) return { item, left: null, right: null, height: 1 };
    if (item.off < n.item.off) n.left = this.ins(n.left, item);
    else n.right = this.ins(n.right, item);
    return balance(n);
  }

  private del(n: Node<T> | null, off: number): Node<T> | null {
    if (n === null) return null;
    if (off < n.item.off) n.left = this.del(n.left, off);
    else if (off > n.item.off) n.right = this.del(n.right, off);
    else {
      this.count--;
      if (n.left === null) return n.right;
      if (n.right === null) return n.left;
      // Replace with the successor (smallest of the right subtree).
      let s = n.right;
      while (s.left !== null) s = s.left;
      n.item = s.item;
      n.right = this.delMin(n.right);
      return balance(n);
    }
    return balance(n);
  }

  private delMin(n: Node<T>): Node<T> | null {
    if (n.left === null) return n.right;
    n.left = this.delMin(n.left);
    return balance(n);
  }
}
