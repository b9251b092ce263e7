// A search for scans that only move forward (the reference and markup scanners): the answer for one
// position is kept until the scan passes it, so each needle is looked for about once per text
// however many candidates ask. Asked from every candidate instead, indexOf (or a regular
// expression's backtracking) made those scans quadratic.

export class ForwardIndex {
  /** The last answer: -1 when the needle does not occur further on, -2 before the first search. */
  #next = -2;

  constructor(
    private readonly text: string,
    private readonly needle: string,
  ) {}

  /** Where `needle` next occurs at or after `position` (-1: nowhere). `position` must not decrease between calls. */
  at(position: number): number {
    if (this.#next !== -1 && this.#next < position) this.#next = this.text.indexOf(this.needle, position);
    return this.#next;
  }
}
