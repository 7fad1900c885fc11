/** WordNet's irregular English verbs as wink-lexicon ships them: each form (bought, lost, left) → its base form. */
declare module 'wink-lexicon/src/irregular-verbs.js' {
  const irregularVerbs: Record<string, string>;
  export = irregularVerbs;
}
