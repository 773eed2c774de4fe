import type { Rule } from 'eslint';

export declare const misleadingIndentation: Rule.RuleModule;
