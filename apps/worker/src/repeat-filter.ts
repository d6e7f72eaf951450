/**
 * Prints a message once however many times it comes in a row (one lost connection fails every
 * task in flight: one line, not one per task). When another message follows, the count of the
 * repeats is printed first.
 */
export function printOnce(print: (line: string, repeats?: number) => void): (line: string) => void {
  let last: string | undefined;
  let repeats = 0;
  return (line) => {
    if (line === last) {
      repeats++;
      return;
    }
    if (repeats > 0) print(`(the previous message repeated ${repeats} more times)`, repeats);
    last = line;
    repeats = 0;
    print(line);
  };
}
